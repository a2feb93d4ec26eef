import { pathToFileURL } from "node:url";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { KubernetesConfig } from "../services/core/config.js";
import { newId } from "../services/core/ids.js";
import { silentLogger } from "../services/core/logger.js";
import { createIntake } from "../services/intake/intake.js";
import { getQueueStats } from "../services/queue/stats.js";
import { createJobLauncher } from "../services/spawner/job-launcher.js";
import { createKubeApi } from "../services/spawner/kube.js";
import { createSpawnerMetrics } from "../services/spawner/metrics.js";
import { startSpawnerService } from "../services/spawner/service.js";
import { alsoHolding, type Figure, figure } from "./figures.js";
import { type BenchStack, type PeerApi, startBenchStack, waitUntil } from "./stack.js";

/**
 * Spawner benchmark: 500 messages -> 500 Jobs against the test Kubernetes API server with 20 ms added to
 * every request (it and fauxqs in a process of their own, as the API server and SQS are in production).
 * Measures Jobs/s for the spawner (the consumer loop, 10 messages at once, back-pressure check per receive;
 * the median of 3 runs) and for a baseline that handles one message at a time (receive one, create its Job,
 * delete it: what the original spawner did), with the same handler, Postgres and SQS, and their ratio.
 * Beside them, the API-only limit: creates in flight / (API requests per Job x latency), the rate the
 * Kubernetes API alone would allow. Figure `spawner`: the ratio to the baseline (goal >= 8); the
 * fraction of the API-only limit is printed with it (goal >= 50 %). Run alone: `npx tsx bench/spawner.ts`.
 */

export interface SpawnerBenchOptions {
  /** Messages (and Jobs) per variant. Default 500. */
  readonly messages?: number;
  /** Added to every Kubernetes API request, ms. Default 20. */
  readonly apiLatencyMs?: number;
  /** The spawner's concurrency. Default 10 (the `khctl spawner` default). */
  readonly concurrency?: number;
  /** Spawner runs (each a fresh queue and namespace); the median one is reported. Default 3. */
  readonly rounds?: number;
}

export interface SpawnerBenchResult {
  readonly name: "spawner";
  readonly messages: number;
  readonly apiLatencyMs: number;
  readonly concurrency: number;
  /** Spawner runs; `spawner` is the median one. */
  readonly rounds: number;
  readonly spawner: { readonly seconds: number; readonly jobsPerSecond: number };
  readonly baseline: { readonly seconds: number; readonly jobsPerSecond: number };
  /** spawner Jobs/s divided by baseline Jobs/s. */
  readonly ratio: number;
  /** Kubernetes API requests the spawner made per Job (creates, lists for back-pressure). */
  readonly requestsPerJob: number;
  /** SQS calls the spawner made per Job (receives, deletes, visibility changes). */
  readonly sqsCallsPerJob: number;
  /** concurrency / (requestsPerJob x latency): Jobs/s if the API were the only cost. */
  readonly apiOnlyLimit: number;
  /** CPU of the spawner's thread per Job, ms (this process's, the bench's own polling included). */
  readonly cpuPerJobMs: number;
  readonly figures: Figure[];
}

interface Fixture extends BenchStack {
  readonly api: PeerApi;
  /** SQS calls made through the stack's client so far. */
  sqsCalls(): number;
}

/** Counts the calls made through `sqs` (the SDK's own middleware stack). */
function countCalls(sqs: BenchStack["sqs"]): () => number {
  let calls = 0;
  sqs.middlewareStack.add(
    (next) => (args) => {
      calls++;
      return next(args);
    },
    { step: "initialize", name: "benchCountCalls" },
  );
  return () => calls;
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
  const { queueUrl } = await fixture.queues(label);
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

interface SpawnerRun {
  readonly seconds: number;
  readonly requests: number;
  readonly sqsCalls: number;
  readonly cpuSeconds: number;
}

async function runSpawner(
  fixture: Fixture,
  count: number,
  concurrency: number,
  namespace: string,
): Promise<SpawnerRun> {
  const requestsBefore = (await fixture.api.count(namespace)).requests;
  const sqsCallsBefore = fixture.sqsCalls();
  const queueUrl = await prepare(fixture, "spawner", count);
  const kube = createKubeApi(fixture.api.kubeConfig(), { namespace });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
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
  let requestsAtEnd = 0;
  await waitUntil("the Jobs", async () => {
    const counted = await fixture.api.count(namespace);
    requestsAtEnd = counted.requests;
    return counted.jobs >= count;
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const requests = requestsAtEnd - requestsBefore;
  const sqsCalls = fixture.sqsCalls() - sqsCallsBefore;
  await waitUntil("an empty queue", async () => {
    const stats = await getQueueStats(fixture.sqs, queueUrl);
    return stats.visible + stats.inFlight === 0;
  });
  await service.stop({ timeoutMs: 10_000 });
  return { seconds, requests, sqsCalls, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
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
  let done = 0;
  while (done < count) {
    const { Messages } = await fixture.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    const message = Messages?.[0];
    if (!message) continue;
    if ((await handle(message, context)) === "done") {
      await fixture.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
      done++;
    }
  }
  return (performance.now() - started) / 1000;
}

export async function runSpawnerBench(options: SpawnerBenchOptions = {}): Promise<SpawnerBenchResult> {
  const messages = options.messages ?? 500;
  const apiLatencyMs = options.apiLatencyMs ?? 20;
  const concurrency = options.concurrency ?? 10;
  const stack = await startBenchStack("spawner", { poolMax: 20, peers: { apiLatencyMs } });
  try {
    const fixture = { ...stack, api: stack.api as PeerApi, sqsCalls: countCalls(stack.sqs) };
    const baselineSeconds = await runBaseline(fixture, messages);
    const runs: SpawnerRun[] = [];
    for (let round = 0; round < (options.rounds ?? 3); round++) {
      runs.push(await runSpawner(fixture, messages, concurrency, `bench-spawner-${round}`));
    }
    // The median run by time: one run is 2 s, short enough for the machine's noise to show.
    const run = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)] as SpawnerRun;
    const spawner = { seconds: run.seconds, jobsPerSecond: messages / run.seconds };
    const baseline = { seconds: baselineSeconds, jobsPerSecond: messages / baselineSeconds };
    const requestsPerJob = run.requests / messages;
    const apiOnlyLimit = concurrency / (requestsPerJob * (apiLatencyMs / 1000));
    const fraction = spawner.jobsPerSecond / apiOnlyLimit;
    const cpuPerJobMs = (run.cpuSeconds * 1000) / messages;
    return {
      name: "spawner",
      messages,
      apiLatencyMs,
      concurrency,
      rounds: runs.length,
      spawner,
      baseline,
      ratio: spawner.jobsPerSecond / baseline.jobsPerSecond,
      requestsPerJob,
      sqsCallsPerJob: run.sqsCalls / messages,
      apiOnlyLimit,
      cpuPerJobMs,
      figures: [
        alsoHolding(
          fraction >= 0.5,
          ">= 8, and >= 50% of the API-only limit",
          figure(
            "spawner",
            spawner.jobsPerSecond,
            "Jobs/s",
            baseline.jobsPerSecond,
            { atLeast: 8 },
            `baseline: one message at a time; API-only limit ${apiOnlyLimit.toFixed(0)} Jobs/s (${concurrency} in flight / (${requestsPerJob.toFixed(2)} requests per Job x ${apiLatencyMs} ms)), reached ${(fraction * 100).toFixed(0)}%; the spawner's thread took ${cpuPerJobMs.toFixed(2)} ms of CPU per Job, so one thread allows at most ${(1000 / cpuPerJobMs).toFixed(0)} Jobs/s`,
          ),
        ),
      ],
    };
  } finally {
    await stack.stop();
  }
}

export function formatSpawnerBench(result: SpawnerBenchResult): string {
  const row = (label: string, r: { seconds: number; jobsPerSecond: number }) =>
    `  ${label.padEnd(40)} ${r.jobsPerSecond.toFixed(1).padStart(8)} Jobs/s  (${r.seconds.toFixed(2)} s)`;
  return [
    `spawner: ${result.messages} messages -> ${result.messages} Jobs, +${result.apiLatencyMs} ms per API request`,
    row(`spawner (concurrency ${result.concurrency}, median of ${result.rounds})`, result.spawner),
    row("baseline (one message at a time)", result.baseline),
    row(`API-only limit (${result.requestsPerJob.toFixed(2)} req/Job)`, {
      seconds: result.messages / result.apiOnlyLimit,
      jobsPerSecond: result.apiOnlyLimit,
    }),
    `  SQS calls per Job: ${result.sqsCallsPerJob.toFixed(2)}`,
    `  the spawner's thread: ${result.cpuPerJobMs.toFixed(2)} ms of CPU per Job, so at most ${(1000 / result.cpuPerJobMs).toFixed(0)} Jobs/s whatever the creates in flight`,
    `  spawner / baseline ${result.ratio.toFixed(1)}x (goal >= 8), of the API-only limit ${((result.spawner.jobsPerSecond / result.apiOnlyLimit) * 100).toFixed(0)}% (goal >= 50%)`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatSpawnerBench(await runSpawnerBench()));
}
