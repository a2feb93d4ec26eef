/** Waiting in tests: on a promise with a bound, or polling a condition until a deadline. Never fixed sleeps. */

/** Fails if the promise does not settle within `ms`: a bound, not a measurement. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms}ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Polls `check` every 50 ms until it returns a truthy value, and resolves with that value; throws naming
 * `what` once `timeoutMs` (default 15000) has passed.
 */
export async function until<T>(
  check: () => Promise<T> | T,
  timeoutMs = 15_000,
  what = "a condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
