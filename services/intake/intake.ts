import type { Message } from "@aws-sdk/client-sqs";
import type { ExecutionRow } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { type Consumer, type ConsumerOptions, startConsumer } from "../queue/consumer.js";
import type { HandleContext, HandleOutcome, MessageHandler } from "../queue/consumer-types.js";
import { restoreOnMissingQueue } from "../queue/ensure.js";
import { decide } from "./decide.js";
import type { Launcher } from "./launcher.js";

export interface IntakeDeps {
  readonly db: Queryable;
  readonly launcher: Launcher;
  /** Told about each message whose execution was not launched because a runner has it or it is finished. */
  readonly onSkip?: (execution: ExecutionRow) => void;
  /** Told about each message received, before anything else (metrics). */
  readonly onMessage?: (message: Message) => void;
}

/** The consumer's handler for both backends: decide (decide.ts), then launch or say why not. */
export function createIntake(deps: IntakeDeps): MessageHandler {
  return async (message: Message, context: HandleContext): Promise<HandleOutcome> => {
    deps.onMessage?.(message);
    const decision = await decide(message, deps.db);
    if (decision.action === "dead-letter") {
      context.logger.error({ reason: decision.reason }, "message dead-lettered");
      return "dead-letter";
    }
    if (decision.action === "retry") {
      context.logger.warn({ reason: decision.reason }, "message left for redelivery");
      return "retry";
    }
    const { execution } = decision;
    const logger = context.logger.child({ executionId: execution.id });
    if (decision.action === "skip") {
      logger.info({ status: execution.status, reason: decision.reason }, "execution not launched");
      deps.onSkip?.(execution);
      return "done";
    }
    return deps.launcher.launch(execution, { ...context, logger });
  };
}

/**
 * The shared consumer loop (heartbeat, back-pressure, stop) feeding the intake. A queue that is gone
 * (LocalStack restarted) is created again when a receive says so.
 */
export function startIntake(
  deps: IntakeDeps & Omit<ConsumerOptions, "handle" | "capacity" | "onReceiveError">,
): Consumer {
  const { launcher } = deps;
  return startConsumer({
    ...deps,
    handle: createIntake(deps),
    onReceiveError: restoreOnMissingQueue(deps.sqs, deps.queueUrl, deps.logger),
    capacity: launcher.capacity ? (free, inFlight) => launcher.capacity?.(free, inFlight) ?? free : undefined,
  });
}
