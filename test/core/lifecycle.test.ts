import { afterEach, describe, expect, it } from "vitest";
import {
  DUPLICATE_WINDOW_MS,
  handleStopSignals,
  holdStopSignals,
  type Stoppable,
} from "../../services/core/lifecycle.js";

/** A target that records how it was asked to stop. */
function target(): Stoppable & { stops: { timeoutMs: number; signal?: NodeJS.Signals }[] } {
  const stops: { timeoutMs: number; signal?: NodeJS.Signals }[] = [];
  return {
    stops,
    done: new Promise(() => {}),
    stop: async (options) => {
      stops.push(options);
    },
  };
}

let dispose: (() => void) | undefined;
afterEach(() => dispose?.());

describe("the stop protocol (core/lifecycle.ts)", () => {
  it("a signal during start-up (held) becomes the graceful stop once the target exists, and nothing holds after", () => {
    const before = process.listenerCount("SIGTERM");
    holdStopSignals();
    // As a supervisor does on the start-up line: the process must not die by the signal's default action.
    expect(process.listenerCount("SIGTERM")).toBe(before + 1);
    process.emit("SIGTERM", "SIGTERM");
    process.emit("SIGTERM", "SIGTERM"); // relayed within the window: the same one
    const service = target();
    const said: string[] = [];
    dispose = handleStopSignals(service, {
      shutdownTimeoutMs: 5_000,
      say: (line) => said.push(line),
    }).dispose;
    expect(service.stops).toEqual([{ timeoutMs: 5_000, signal: "SIGTERM" }]);
    expect(said).toEqual(["SIGTERM: stopping (work in flight gets up to 5 s; SIGTERM again stops at once)"]);
    dispose();
    dispose = undefined;
    expect(process.listenerCount("SIGTERM")).toBe(before);
  });

  it("first signal: a graceful stop with the shutdown timeout, said in one line", () => {
    const service = target();
    const said: string[] = [];
    dispose = handleStopSignals(service, {
      shutdownTimeoutMs: 30_000,
      say: (line) => said.push(line),
    }).dispose;
    process.emit("SIGTERM", "SIGTERM");
    expect(service.stops).toEqual([{ timeoutMs: 30_000, signal: "SIGTERM" }]);
    expect(said).toEqual(["SIGTERM: stopping (work in flight gets up to 30 s; SIGTERM again stops at once)"]);
  });

  it("a signal within the window is the same one relayed; a later one is acknowledged and forces the stop", () => {
    const service = target();
    const said: string[] = [];
    let clock = 1_000;
    dispose = handleStopSignals(service, {
      shutdownTimeoutMs: 10_000,
      say: (line) => said.push(line),
      now: () => clock,
    }).dispose;
    process.emit("SIGINT", "SIGINT");
    clock += DUPLICATE_WINDOW_MS - 1;
    process.emit("SIGINT", "SIGINT");
    expect(service.stops).toHaveLength(1);
    clock += 2;
    process.emit("SIGINT", "SIGINT");
    expect(service.stops).toEqual([
      { timeoutMs: 10_000, signal: "SIGINT" },
      { timeoutMs: 0, signal: "SIGINT" },
    ]);
    expect(said.at(-1)).toBe("SIGINT again: stopping now, aborting work in flight");
    // Nothing more after the forced stop.
    clock += DUPLICATE_WINDOW_MS * 2;
    process.emit("SIGINT", "SIGINT");
    expect(service.stops).toHaveLength(2);
  });

  it("a command can force its own way, and dispose() lets the signals go", () => {
    const service = target();
    const forced: NodeJS.Signals[] = [];
    let clock = 0;
    const handler = handleStopSignals(service, {
      shutdownTimeoutMs: 0,
      stopping: "cancelling the run",
      say: () => {},
      force: (signal) => forced.push(signal),
      now: () => clock,
    });
    const before = process.listenerCount("SIGTERM");
    process.emit("SIGTERM", "SIGTERM");
    clock += DUPLICATE_WINDOW_MS;
    process.emit("SIGTERM", "SIGTERM");
    expect(forced).toEqual(["SIGTERM"]);
    expect(service.stops).toHaveLength(1);
    handler.dispose();
    expect(process.listenerCount("SIGTERM")).toBe(before - 1);
  });
});
