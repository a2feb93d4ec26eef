import { setTimeout as delay } from "node:timers/promises";

/** Exponential backoff with full jitter: a random delay in [0, min(maxMs, baseMs * 2^attempt)). attempt 0 is the first retry. */
export function backoffMs(attempt: number, options: { baseMs?: number; maxMs?: number } = {}): number {
  const base = options.baseMs ?? 100;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}

/** Sleeps ms, or less if the signal aborts first (never rejects). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  await delay(ms, undefined, { signal }).catch(() => {});
}
