import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { KubernetesConfig } from "../services/core/config.js";
import { newId } from "../services/core/ids.js";
import { silentLogger } from "../services/core/logger.js";
import { migrate } from "../services/db/migrate.js";
import { createPool, type Pool } from "../services/db/pool.js";
import { startEmbeddedPostgres } from "../services/embedded/postgres.js";
import { startEmbeddedSqs } from "../services/embedded/sqs.js";
import { createIntake } from "../services/intake/intake.js";
import { createSqsClient } from "../services/queue/client.js";
import { ensureQueues } from "../services/queue/ensure.js";
import { getQueueStats } from "../services/queue/stats.js";
import { createJobLauncher } from "../services/spawner/job-launcher.js";
import { createKubeApi } from "../services/spawner/kube.js";
import { createSpawnerMetrics } from "../services/spawner/metrics.js";
import { startSpawnerService } from "../services/spawner/service.js";
import { type K8sApiServer, startK8sApiServer } from "../test/helpers/k8s-api-server.js";

/**
 * Spawner benchmark: 500 messages -> 500 Jobs against the test Kubernetes API server with 20 ms added to
 * every request. Measures Jobs/s for the spawner (the consumer loop, 10 messages at once, back-pressure
 * check per receive) and for a baseline that handles one message at a time (receive one, create its Job,
 * delete it: what the original spawner did), with the same handler, Postgres and SQS, and their ratio.
 * Run alone: `npx tsx bench/spawner.ts`.
 */

export interface SpawnerBenchOptions {
  /** Messages (and Jobs) per variant. Default 500. */
  readonly messages?: number;
  /** Added to every Kubernetes API request, ms. Default 20. */
  readonly apiLatencyMs?: number;
  /** The spawner's concurrency. Default 10 (the `khctl spawner` default). */
  readonly concurrency?: number;
}

export interface SpawnerBenchResult {
  readonly name: "spawner";
  readonly messages: number;
  readonly apiLatencyMs: number;
  readonly concurrency: number;
  readonly spawner: { readonly seconds: number; readonly jobsPerSecond: number };
  readonly baseline: { readonly seconds: number; readonly jobsPerSecond: number };
  /** spawner Jobs/s divided by baseline Jobs/s. */
  readonly ratio: number;
}

interface Fixture {
  readonly pool: Pool;
  readonly sqs: SQSClient;
  readonly api: K8sApiServer;
}

const config = (namespace: string): KubernetesConfig => ({
  namespace,
  runnerImage: "keeperhub-runner:bench0001",
  jobTtlSeconds: 3600,
  jobActiveDeadlineSeconds: 300,
  // The bench measures create throughput, not back-pressure: the cap stays out of the way.
  maxConcurrentJobs: 1_000_000,
});

/** A queue holding `count` messages, one per fresh pending execution. */
async function prepare(fixture: Fixture, label: string, count: number): Promise<string> {
  const { pool, sqs } = fixture;
  const suffix = newId().slice(0, 8);
  const { queueUrl } = await ensureQueues(sqs, {
    queueName: `bench-${label}-${suffix}`,
    deadLetterQueueName: `bench-${label}-dlq-${suffix}`,
    receiveWaitSeconds: 1,
  });
  const workflowId = newId();
  await pool.query("INSERT INTO workflows (id, name) VALUES ($1, $2)", [workflowId, `bench ${label}`]);
  const ids = Array.from({ length: count }, () => newId());
  await pool.query(
    `INSERT INTO workflow_executions (id, workflow_id, trigger_type)
     SELECT unnest($1::text[]), $2, 'manual'`,
    [ids, workflowId],
  );
  const triggerTime = new Date().toISOString();
  for (let i = 0; i < ids.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ids.slice(i, i + 10).map((executionId, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify({
            executionId,
            workflowId,
            scheduleId: null,
            triggerType: "manual",
            triggerTime,
          }),
        })),
      }),
    );
  }
  return queueUrl;
}

async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("bench: timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function runSpawner(fixture: Fixture, count: number, concurrency: number): Promise<number> {
  const namespace = "bench-spawner";
  const queueUrl = await prepare(fixture, "spawner", count);
  const kube = createKubeApi(fixture.api.kubeConfig(), { namespace });
  const started = performance.now();
  const service = await startSpawnerService(
    {
      db: fixture.pool,
      sqs: fixture.sqs,
      queueUrl,
      kube,
      config: config(namespace),
      logger: silentLogger,
      metrics: createSpawnerMetrics({ defaultMetrics: false }),
    },
    { port: null, concurrency, waitTimeSeconds: 1, reconcileIntervalMs: 3_600_000 },
  );
  await waitUntil(() => fixture.api.jobs(namespace).length >= count);
  const seconds = (performance.now() - started) / 1000;
  await waitUntil(async () => {
    const stats = await getQueueStats(fixture.sqs, queueUrl);
    return stats.visible + stats.inFlight === 0;
  });
  await service.stop({ timeoutMs: 10_000 });
  return seconds;
}

/** One message at a time: receive one, create its Job, delete it. The same handler as the spawner. */
async function runBaseline(fixture: Fixture, count: number): Promise<number> {
  const namespace = "bench-baseline";
  const queueUrl = await prepare(fixture, "baseline", count);
  const kube = createKubeApi(fixture.api.kubeConfig(), { namespace });
  const launcher = createJobLauncher({
    db: fixture.pool,
    kube,
    config: config(namespace),
    metrics: createSpawnerMetrics({ defaultMetrics: false }),
  });
  const handle = createIntake({ db: fixture.pool, launcher });
  const context = { signal: new AbortController().signal, receiveCount: 1, logger: silentLogger };
  const started = performance.now();
  while (fixture.api.jobs(namespace).length < count) {
    const { Messages } = await fixture.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    const message = Messages?.[0];
    if (!message) continue;
    if ((await handle(message, context)) === "done") {
      await fixture.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
  return (performance.now() - started) / 1000;
}

export async function runSpawnerBench(options: SpawnerBenchOptions = {}): Promise<SpawnerBenchResult> {
  const messages = options.messages ?? 500;
  const apiLatencyMs = options.apiLatencyMs ?? 20;
  const concurrency = options.concurrency ?? 10;
  const dataRoot = await mkdtemp("/tmp/kh-bench-spawner-");
  const postgres = await startEmbeddedPostgres({ dataDir: `${dataRoot}/data`, ephemeral: true });
  const sqsServer = await startEmbeddedSqs();
  const api = await startK8sApiServer({ latencyMs: apiLatencyMs, createPods: false });
  const sqs = createSqsClient({ endpoint: sqsServer.endpoint, region: "us-east-1" }, {});
  const pool = createPool(postgres.url, { max: 20 });
  try {
    await migrate(postgres.url);
    const fixture = { pool, sqs, api };
    const baselineSeconds = await runBaseline(fixture, messages);
    const spawnerSeconds = await runSpawner(fixture, messages, concurrency);
    const spawner = { seconds: spawnerSeconds, jobsPerSecond: messages / spawnerSeconds };
    const baseline = { seconds: baselineSeconds, jobsPerSecond: messages / baselineSeconds };
    return {
      name: "spawner",
      messages,
      apiLatencyMs,
      concurrency,
      spawner,
      baseline,
      ratio: spawner.jobsPerSecond / baseline.jobsPerSecond,
    };
  } finally {
    await pool.end();
    sqs.destroy();
    await api.close();
    await sqsServer.stop();
    await postgres.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

export function formatSpawnerBench(result: SpawnerBenchResult): string {
  const row = (label: string, r: { seconds: number; jobsPerSecond: number }) =>
    `  ${label.padEnd(34)} ${r.jobsPerSecond.toFixed(1).padStart(8)} Jobs/s  (${r.seconds.toFixed(2)} s)`;
  return [
    `spawner: ${result.messages} messages -> ${result.messages} Jobs, +${result.apiLatencyMs} ms per API request`,
    row(`spawner (concurrency ${result.concurrency})`, result.spawner),
    row("baseline (one message at a time)", result.baseline),
    `  ratio ${result.ratio.toFixed(1)}x`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runSpawnerBench();
  console.log(formatSpawnerBench(result));
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "results");
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "spawner.json"), `${JSON.stringify(result, null, 2)}\n`);
}
