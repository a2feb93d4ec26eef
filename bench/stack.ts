import { mkdtemp, rm } from "node:fs/promises";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { newId } from "../services/core/ids.js";
import { migrate } from "../services/db/migrate.js";
import { createPool, type Pool } from "../services/db/pool.js";
import { createWorkflow } from "../services/db/workflows.js";
import { type RunningPostgres, startEmbeddedPostgres } from "../services/embedded/postgres.js";
import { startEmbeddedSqs } from "../services/embedded/sqs.js";
import { createSqsClient } from "../services/queue/client.js";
import { type EnsuredQueues, ensureQueues } from "../services/queue/ensure.js";
import { nextSlotAfter } from "../services/scheduling/cron.js";
import { validateWorkflow } from "../services/workflow/definition.js";

/**
 * What the benchmarks run against: the embedded default's own parts (an ephemeral embedded Postgres with
 * the schema migrated, and fauxqs), in a temporary dir that stop() removes.
 */
export interface BenchStack {
  readonly server: RunningPostgres;
  /** The migrated database's URL. */
  readonly url: string;
  readonly pool: Pool;
  readonly sqs: SQSClient;
  /** A fresh queue and its DLQ, named after `label` (each measurement its own, so none sees another's). */
  queues(label: string): Promise<EnsuredQueues>;
  stop(): Promise<void>;
}

export async function startBenchStack(name: string, options: { poolMax?: number } = {}): Promise<BenchStack> {
  const dataRoot = await mkdtemp(`/tmp/kh-bench-${name}-`);
  const cleanups: (() => Promise<void>)[] = [() => rm(dataRoot, { recursive: true, force: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const server = await startEmbeddedPostgres({ dataDir: `${dataRoot}/data`, ephemeral: true });
    cleanups.push(() => server.stop());
    const sqsServer = await startEmbeddedSqs();
    cleanups.push(() => sqsServer.stop());
    const sqs = createSqsClient({ endpoint: sqsServer.endpoint, region: "us-east-1" }, {});
    cleanups.push(async () => sqs.destroy());
    await migrate(server.url);
    const pool = createPool(server.url, { max: options.poolMax ?? 10 });
    cleanups.push(() => pool.end());
    const queues = (label: string) => {
      const suffix = newId().slice(0, 8);
      return ensureQueues(sqs, {
        queueName: `bench-${label}-${suffix}`,
        deadLetterQueueName: `bench-${label}-dlq-${suffix}`,
        receiveWaitSeconds: 1,
      });
    };
    return { server, url: server.url, pool, sqs, queues, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `check` every `everyMs` until it holds; fails after `timeoutMs` naming `what`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  { everyMs = 20, timeoutMs = 300_000 }: { everyMs?: number; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A workflow whose run does next to nothing (a trigger and one Condition step), so what is measured is
 * the path to and around the run; with `cron`, scheduled from its next slot.
 */
export async function createTrivialWorkflow(stack: BenchStack, name: string, cron?: string): Promise<string> {
  const definition = validateWorkflow({
    name,
    nodes: [
      {
        id: "t",
        type: "trigger",
        data: {
          type: "trigger",
          label: "Start",
          config: cron ? { triggerType: "Schedule", scheduleCron: cron } : { triggerType: "Manual" },
        },
      },
      {
        id: "c",
        type: "action",
        data: {
          type: "action",
          label: "Check",
          config: { actionType: "Condition", condition: "1 + 1 === 2" },
        },
      },
    ],
    edges: [{ id: "t-c", source: "t", target: "c" }],
  });
  const { workflow } = await createWorkflow(stack.pool, {
    definition,
    ...(cron
      ? { schedule: { cron, timezone: "UTC", nextRunAt: nextSlotAfter(cron, "UTC", new Date()) } }
      : {}),
  });
  return workflow.id;
}
