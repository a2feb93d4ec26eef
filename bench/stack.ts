import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { KubeConfig } from "@kubernetes/client-node";
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
import { testKubeConfig } from "../test/helpers/k8s-api-server.js";

/**
 * What the benchmarks run against: the embedded default's own parts (an ephemeral embedded Postgres with
 * the schema migrated, and fauxqs), in a temporary dir that stop() removes. With `peers`, fauxqs and the
 * test Kubernetes API server run in a process of their own (peers.ts), as SQS and the API server do in
 * production, so their work does not take the measured service's thread; else fauxqs runs in this
 * process, as under `khctl dev`.
 */
export interface BenchStack {
  readonly server: RunningPostgres;
  /** The migrated database's URL. */
  readonly url: string;
  readonly pool: Pool;
  readonly sqs: SQSClient;
  /** The SQS emulator's endpoint, for services started as processes of their own. */
  readonly sqsEndpoint: string;
  /** The test Kubernetes API server, with `peers: { apiLatencyMs }`. */
  readonly api?: PeerApi;
  /** A fresh queue and its DLQ, named after `label` (each measurement its own, so none sees another's). */
  queues(label: string): Promise<EnsuredQueues>;
  stop(): Promise<void>;
}

export interface PeerApi {
  kubeConfig(): KubeConfig;
  /** Jobs stored in `namespace`, and API requests received so far. */
  count(namespace: string): Promise<{ jobs: number; requests: number }>;
}

interface Peers {
  readonly sqsEndpoint: string;
  readonly api?: PeerApi;
  stop(): Promise<void>;
}

/** peers.ts in a child process; its stdin closing (stop(), or this process ending) stops it. */
async function startPeers(apiLatencyMs: number | undefined): Promise<Peers> {
  const args = apiLatencyMs === undefined ? [] : ["--api-latency-ms", String(apiLatencyMs)];
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(import.meta.dirname, "peers.ts"), ...args],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const nextLine = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("bench peers process exited");
    return JSON.parse(value) as Record<string, unknown>;
  };
  const ready = (await nextLine()) as { sqsEndpoint: string; apiUrl?: string };
  // One question at a time: each answer is the next line.
  let asking = Promise.resolve();
  const count = (namespace: string) => {
    const answer = asking.then(async () => {
      child.stdin.write(`count ${namespace}\n`);
      return (await nextLine()) as { jobs: number; requests: number };
    });
    asking = answer.then(() => undefined);
    return answer;
  };
  const apiUrl = ready.apiUrl;
  return {
    sqsEndpoint: ready.sqsEndpoint,
    ...(apiUrl ? { api: { kubeConfig: () => testKubeConfig(apiUrl), count } } : {}),
    async stop() {
      child.stdin.end();
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

export async function startBenchStack(
  name: string,
  options: { poolMax?: number; peers?: { apiLatencyMs?: number } } = {},
): Promise<BenchStack> {
  const dataRoot = await mkdtemp(`/tmp/kh-bench-${name}-`);
  const cleanups: (() => Promise<void>)[] = [() => rm(dataRoot, { recursive: true, force: true })];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const server = await startEmbeddedPostgres({ dataDir: `${dataRoot}/data`, ephemeral: true });
    cleanups.push(() => server.stop());
    let endpoint: string;
    let api: PeerApi | undefined;
    if (options.peers) {
      const peers = await startPeers(options.peers.apiLatencyMs);
      cleanups.push(() => peers.stop());
      endpoint = peers.sqsEndpoint;
      api = peers.api;
    } else {
      const sqsServer = await startEmbeddedSqs();
      cleanups.push(() => sqsServer.stop());
      endpoint = sqsServer.endpoint;
    }
    const sqs = createSqsClient({ endpoint, region: "us-east-1" }, {});
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
    return {
      server,
      url: server.url,
      pool,
      sqs,
      sqsEndpoint: endpoint,
      ...(api ? { api } : {}),
      queues,
      stop,
    };
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
