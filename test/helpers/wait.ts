/**
 * Waiting in tests: on a promise with a bound, or polling a condition until a deadline. Never fixed sleeps.
 *
 * Every deadline in the suite goes through scaled(): TEST_TIME_FACTOR (default 1) multiplies them all,
 * so a slow or loaded machine gets more time by one setting, and no test hides its own budget.
 */

/** The factor every deadline is multiplied by: TEST_TIME_FACTOR, a number >= 1 (default 1). */
export const TIME_FACTOR = timeFactor(process.env.TEST_TIME_FACTOR);

function timeFactor(value: string | undefined): number {
  if (value === undefined || value === "") return 1;
  const factor = Number(value);
  if (!Number.isFinite(factor) || factor < 1) {
    throw new Error(`TEST_TIME_FACTOR must be a number >= 1, got "${value}"`);
  }
  return factor;
}

/** `ms` scaled by TEST_TIME_FACTOR: use it for every deadline a test sets. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_FACTOR);
}

/** Fails if the promise does not settle within `ms` (scaled): a bound, not a measurement. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const limit = scaled(ms);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${limit}ms`)), limit);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Polls `check` every 50 ms until it returns a truthy value, and resolves with that value; throws naming
 * `what` once `timeoutMs` (default 20000, scaled) has passed.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const limit = scaled(timeoutMs);
  const deadline = Date.now() + limit;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${limit}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
