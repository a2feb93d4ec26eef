import { backoffMs, sleep } from "./backoff.js";
import { errorMessage } from "./errors.js";
import type { Logger } from "./logger.js";

export interface Periodic {
  /** Resolves when the loop has ended (after stop()). */
  readonly done: Promise<void>;
  /** Lets the pass in progress finish, then ends the loop. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs `pass` at once and then every intervalMs until stop(). A pass may ask for the next one sooner by
 * returning how many ms to wait (never more than the interval: the dispatcher wakes at the next slot). A
 * failed pass is logged with `what` and the next one waits longer (backoff with jitter, up to a minute,
 * never less than the interval), so a database or API outage is not hammered. The dispatcher loop, the
 * executor's stale-run sweep and the spawner's reconciler run on it.
 */
export function startPeriodic(
  pass: () => Promise<unknown>,
  options: { intervalMs: number; logger: Logger; what: string },
): Periodic {
  const stopping = new AbortController();
  const done = (async () => {
    let failures = 0;
    while (!stopping.signal.aborted) {
      let wait = options.intervalMs;
      try {
        const sooner = await pass();
        if (typeof sooner === "number") wait = Math.max(0, Math.min(options.intervalMs, sooner));
        failures = 0;
      } catch (error) {
        wait = Math.max(options.intervalMs, backoffMs(failures++, { baseMs: 1_000, maxMs: 60_000 }));
        options.logger.warn({ err: errorMessage(error), retryInMs: wait }, `${options.what} failed`);
      }
      await sleep(wait, stopping.signal);
    }
  })();
  return {
    done,
    stop() {
      stopping.abort();
      return done;
    },
  };
}
