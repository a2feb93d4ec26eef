import { constants } from "node:os";

/**
 * The one stop protocol of every long-running command (graphile-worker's main.ts, River's Stop vs
 * StopAndCancel): the first SIGINT/SIGTERM asks for a graceful stop (take no new work, let work in flight
 * finish for up to the shutdown timeout, then abort it); a second signal is acknowledged and forces the
 * stop at once. A signal that arrives within DUPLICATE_WINDOW_MS of the first is the same one relayed
 * (a terminal's Ctrl-C reaches npm and node alike, and npm passes it on): it changes nothing.
 */

/** Signals closer than this to the first one count as that one, relayed. */
export const DUPLICATE_WINDOW_MS = 1_000;

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/** Something that runs until it ends by itself or is stopped. */
export interface Stoppable {
  /** Settles when it has ended, by itself or after stop(). */
  readonly done: Promise<unknown>;
  /**
   * Graceful stop: no new work; work in flight gets `timeoutMs`, then is aborted. Idempotent; a later
   * call with a shorter timeout shortens it (0: abort now).
   */
  stop(options: { timeoutMs: number; signal?: NodeJS.Signals }): Promise<unknown>;
}

export interface StopSignalOptions {
  /** Work in flight gets this long after the first signal, ms. */
  readonly shutdownTimeoutMs: number;
  /** Tells the person (stderr) or the log what is happening, one line each. */
  readonly say: (line: string) => void;
  /** What the first signal does, in words. Default: what the shutdown timeout means for work in flight. */
  readonly stopping?: string;
  /** What a second signal does. Default: stop({ timeoutMs: 0 }), i.e. abort the work in flight now. */
  readonly force?: (signal: NodeJS.Signals) => void;
  /** Default SIGINT and SIGTERM. */
  readonly signals?: readonly NodeJS.Signals[];
  /** For tests: the clock, ms. */
  readonly now?: () => number;
}

/** Stop signals that came while a command was starting, before it had a target to stop (holdStopSignals). */
let held:
  | {
      readonly on: readonly NodeJS.Signals[];
      readonly seen: NodeJS.Signals[];
      readonly listener: (signal: NodeJS.Signals) => void;
    }
  | undefined;

/**
 * Holds stop signals from now until handleStopSignals takes over, which replays them: a long-running command
 * calls it first, so that a signal during its start-up (a supervisor that stops it as soon as it says it
 * started) stops it gracefully instead of killing it by the signal's default action. A second signal during
 * start-up ends the process at once, as after start-up.
 */
export function holdStopSignals(signals: readonly NodeJS.Signals[] = STOP_SIGNALS): void {
  if (held) return;
  const seen: NodeJS.Signals[] = [];
  let firstAt = 0;
  const listener = (signal: NodeJS.Signals) => {
    if (seen.length === 0) firstAt = Date.now();
    else if (Date.now() - firstAt >= DUPLICATE_WINDOW_MS) exitBySignal(signal);
    seen.push(signal);
  };
  held = { on: signals, seen, listener };
  for (const signal of signals) process.on(signal, listener);
}

/** The first signal held so far (the others were the same one, relayed), and no more holding. */
function releaseHeldSignals(): NodeJS.Signals[] {
  if (!held) return [];
  const { on, seen, listener } = held;
  for (const signal of on) process.off(signal, listener);
  held = undefined;
  return seen.slice(0, 1);
}

/** Handles stop signals for `target` until dispose() (see the protocol above). */
export function handleStopSignals(target: Stoppable, options: StopSignalOptions): { dispose(): void } {
  const now = options.now ?? Date.now;
  const signals = options.signals ?? STOP_SIGNALS;
  let firstAt: number | undefined;
  let forced = false;
  const listener = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = now();
      const grace =
        options.stopping ??
        (options.shutdownTimeoutMs > 0
          ? `work in flight gets up to ${formatSeconds(options.shutdownTimeoutMs)}`
          : "finishing what is in progress");
      options.say(`${signal}: stopping (${grace}; ${signal} again stops at once)`);
      // Its outcome, failure included, is the target's `done`.
      target.stop({ timeoutMs: options.shutdownTimeoutMs, signal }).catch(() => {});
      return;
    }
    if (forced || now() - firstAt < DUPLICATE_WINDOW_MS) return;
    forced = true;
    options.say(`${signal} again: stopping now, aborting work in flight`);
    if (options.force) options.force(signal);
    else target.stop({ timeoutMs: 0, signal }).catch(() => {});
  };
  for (const signal of signals) process.on(signal, listener);
  for (const signal of releaseHeldSignals()) listener(signal);
  return {
    dispose() {
      for (const signal of signals) process.off(signal, listener);
    },
  };
}

/** Runs until `target` is done, stopping it on signals as above. */
export async function runUntilStopped(target: Stoppable, options: StopSignalOptions): Promise<void> {
  const handler = handleStopSignals(target, options);
  try {
    await target.done;
  } finally {
    handler.dispose();
  }
}

/**
 * A forced stop for a process that cannot abort its work any faster (one `khctl run`): end now, as the
 * signal's default action would (exit code 128 + n), without running any more of our code.
 */
export function exitBySignal(signal: NodeJS.Signals): void {
  process.exit(128 + (constants.signals[signal] ?? 0));
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
