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
