import { afterAll } from "vitest";

/**
 * Runs `cleanup` when the calling file ends: vitest's afterAll inside a test run; outside one (a bench
 * reusing the test fixtures), it waits in a list that runAfterFileCleanups() empties, last first.
 */
const pending: (() => unknown)[] = [];

export function afterFile(cleanup: () => unknown, timeoutMs?: number): void {
  if (process.env.VITEST) afterAll(async () => void (await cleanup()), timeoutMs);
  else pending.push(cleanup);
}

/** Outside vitest: runs every cleanup afterFile() queued, last first; each failure is reported, none stops the rest. */
export async function runAfterFileCleanups(): Promise<void> {
  for (let cleanup = pending.pop(); cleanup; cleanup = pending.pop()) {
    try {
      await cleanup();
    } catch (error) {
      console.error(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
