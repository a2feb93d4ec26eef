import type { Message } from "@aws-sdk/client-sqs";
import { isDatabaseUnavailable } from "../db/errors.js";
import type { ExecutionRow } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { type Consumer, type ConsumerOptions, startConsumer } from "../queue/consumer.js";
import type { HandleContext, HandleOutcome, MessageHandler } from "../queue/consumer-types.js";
import { restoreOnMissingQueue } from "../queue/ensure.js";
import { DatabaseGate } from "./database-gate.js";
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

/**
 * The consumer's handler for both backends: decide (decide.ts), then launch or say why not. A failure to
 * reach the database marks `gate` down (the consumer then pauses receiving) and retries the message.
 */
export function createIntake(deps: IntakeDeps, gate?: DatabaseGate): MessageHandler {
  const handle = handleMessage(deps);
  return async (message, context) => {
    try {
      return await handle(message, context);
    } catch (error) {
      if (!gate || !isDatabaseUnavailable(error)) throw error;
      gate.markDown(error);
      return "retry";
    }
  };
}

function handleMessage(deps: IntakeDeps): MessageHandler {
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
 * The shared consumer loop (heartbeat, back-pressure, stop) feeding the intake. It receives nothing while
 * the database is unreachable, or beyond what the launcher has room for; a queue that is gone (LocalStack
 * restarted) is created again when a receive says so.
 */
export function startIntake(
  deps: IntakeDeps & Omit<ConsumerOptions, "handle" | "capacity" | "onReceiveError">,
): Consumer {
  const { launcher } = deps;
  const gate = new DatabaseGate(deps.db, deps.logger);
  return startConsumer({
    ...deps,
    handle: createIntake(deps, gate),
    onReceiveError: restoreOnMissingQueue(deps.sqs, deps.queueUrl, deps.logger),
    capacity: async (free, inFlight) => {
      if (!(await gate.allowsReceiving())) return 0;
      return launcher.capacity ? launcher.capacity(free, inFlight) : free;
    },
  });
}
