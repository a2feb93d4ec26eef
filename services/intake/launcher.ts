import type { ExecutionRow } from "../db/executions.js";
import type { HandleContext, HandleOutcome } from "../queue/consumer-types.js";

/**
 * How a run starts: one implementation per backend, a child process (executor/process-launcher.ts) or a
 * Kubernetes Job (spawner/job-launcher.ts). The intake (intake.ts) decides what a message means; it calls
 * launch() only for a `pending` execution.
 */
export interface Launcher {
  /**
   * Starts the run (the executor also waits for its end) and says what becomes of the message: "done"
   * once the run is started or its failure recorded, "retry" for a transient failure.
   */
  launch(execution: ExecutionRow, context: HandleContext): Promise<HandleOutcome>;
  /**
   * Back-pressure (the consumer's capacity hook): how many messages may be received now, given the
   * consumer's free handler slots and the messages it is handling. Default: the free slots.
   */
  capacity?(freeSlots: number, inFlight: number): Promise<number>;
}
