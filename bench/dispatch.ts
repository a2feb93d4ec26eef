import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import type { WorkflowMessage } from "../services/contracts/message.js";
import { newId } from "../services/core/ids.js";
import { silentLogger } from "../services/core/logger.js";
import { migrate } from "../services/db/migrate.js";
import { createPool, type Pool } from "../services/db/pool.js";
import { dispatchOnce, startDispatcherLoop } from "../services/dispatcher/dispatcher.js";
import type { MessageSender } from "../services/dispatcher/outbox.js";
import { type RunningPostgres, startEmbeddedPostgres } from "../services/embedded/postgres.js";
import { startEmbeddedSqs } from "../services/embedded/sqs.js";
import { startExecutor } from "../services/executor/executor.js";
import { createSqsClient } from "../services/queue/client.js";
import { ensureQueues } from "../services/queue/ensure.js";
import { messageAttributes, SEND_BATCH_SIZE, sendWorkflowMessages } from "../services/queue/send.js";

/**
 * Dispatch benchmark (issue 3): 1,000 due schedules among 10,000 and among 200,000. For each size it
 * measures, in the same run and against the same embedded Postgres and fauxqs:
 * - dispatcher: dispatchOnce() end to end (claim, insert, advance, commit, send, mark sent), due/s;
 * - SQL alone: the same pass with a sender that does nothing (claim-insert-advance and the outbox mark);
 * - SendMessageBatch alone: the same number of messages, 10 per batch, all batches at once;
 * and the ratio of the dispatcher's rate at 10,000 to that at 200,000 (the goal is ~1: cost follows the
 * due schedules, not all schedules). Plus an end-to-end figure: executions/s and slot -> runner-start
 * latency (p50/p95) with the dispatcher loop and the executor running `khctl run` child processes.
 * Run alone: `npx tsx bench/dispatch.ts`.
 */

export interface DispatchBenchOptions {
  /** Due schedules per measurement. Default 1000. */
  readonly due?: number;
  /** Total schedules, one database each. Default [10000, 200000]. */
  readonly sizes?: readonly number[];
  /** Repetitions per measurement; the median is reported. Default 5. */
  readonly repeats?: number;
  /** Executions in the end-to-end run (0: none). Default 40. */
  readonly endToEnd?: number;
  /** Due schedules claimed per transaction. Default: the dispatcher's (DISPATCH_BATCH_SIZE). */
  readonly batchSize?: number;
}

interface Rate {
  /** Median seconds per pass. */
  readonly seconds: number;
  /** Due schedules (or messages) per second. */
  readonly perSecond: number;
}

export interface DispatchBenchResult {
  readonly name: "dispatch";
  readonly due: number;
  readonly sizes: {
    readonly total: number;
    readonly dispatcher: Rate;
    readonly sqlOnly: Rate;
    readonly sendOnly: Rate;
    /** Dispatcher rate as a fraction of the slower of its two parts. */
    readonly fractionOfParts: number;
  }[];
  /** Dispatcher due/s at the smallest size divided by that at the largest (goal ~1). */
  readonly ratio: number;
  readonly endToEnd?: {
    readonly executions: number;
    readonly executionsPerSecond: number;
    /** From the slot to the runner's claim (started_at): min (dispatch + queue + process start), p50, p95 (queueing in the burst). */
    readonly slotToStartMs: { readonly min: number; readonly p50: number; readonly p95: number };
    readonly concurrency: number;
    /** Which khctl the child processes ran: compiled (dist) or TypeScript under tsx. */
    readonly runner: "dist" | "tsx";
  };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

async function createDatabase(server: RunningPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.urlFor(name);
  await migrate(url);
  return url;
}

/** total workflows with one every-minute schedule each; the first `due` are due, the rest in an hour or more. */
async function fill(pool: Pool, total: number, due: number): Promise<void> {
  await pool.query(
    `INSERT INTO workflows (id, name) SELECT lpad(i::text, 21, '0'), 'bench ' || i FROM generate_series(1, $1) AS i`,
    [total],
  );
  await pool.query(
    `INSERT INTO workflow_schedules (id, workflow_id, cron_expression, timezone, next_run_at)
     SELECT lpad(i::text, 20, '0') || 's', lpad(i::text, 21, '0'), '* * * * *', 'UTC',
            CASE WHEN i <= $2 THEN now() - interval '10 seconds'
                 ELSE now() + interval '1 hour' + (i % 1440) * interval '1 minute' END
     FROM generate_series(1, $1) AS i`,
    [total, due],
  );
  await pool.query("ANALYZE workflows; ANALYZE workflow_schedules");
}

/** Makes the same schedules due again, with their earlier executions gone. */
async function rewind(pool: Pool, due: number): Promise<void> {
  await pool.query("DELETE FROM workflow_executions");
  await pool.query(
    `UPDATE workflow_schedules SET next_run_at = now() - interval '10 seconds'
     WHERE id IN (SELECT lpad(i::text, 20, '0') || 's' FROM generate_series(1, $1) AS i)`,
    [due],
  );
  await pool.query("VACUUM ANALYZE workflow_executions");
  await pool.query("VACUUM ANALYZE workflow_schedules");
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** The bare limit of SendMessageBatch: `count` messages, 10 per batch, all batches in flight at once. */
async function sendOnly(sqs: SQSClient, queueUrl: string, count: number): Promise<number> {
  const message: WorkflowMessage = {
    executionId: newId(),
    workflowId: newId(),
    scheduleId: newId(),
    triggerType: "schedule",
    triggerTime: new Date().toISOString(),
  };
  const body = JSON.stringify(message);
  return timed(async () => {
    const batches = Array.from({ length: Math.ceil(count / SEND_BATCH_SIZE) }, (_, b) =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: SEND_BATCH_SIZE }, (_, i) => ({
            Id: String(b * SEND_BATCH_SIZE + i),
            MessageBody: body,
            MessageAttributes: messageAttributes(message),
          })),
        }),
      ),
    );
    await Promise.all(batches);
  });
}

/**
 * The khctl the executor starts for each run: the compiled one (what `npm start` and the images run) when
 * `npm run build` has made it, else the TypeScript entry under tsx (slower to start: it compiles).
 */
function runnerEntry(): { cliEntry: string; execArgv: string[]; kind: "dist" | "tsx" } {
  const root = path.join(import.meta.dirname, "..");
  const compiled = path.join(root, "dist", "services", "cli", "main.js");
  if (existsSync(compiled)) return { cliEntry: compiled, execArgv: [], kind: "dist" };
  return {
    cliEntry: path.join(root, "services", "cli", "main.ts"),
    execArgv: ["--import", "tsx"],
    kind: "tsx",
  };
}

async function endToEnd(
  server: RunningPostgres,
  sqs: SQSClient,
  count: number,
): Promise<DispatchBenchResult["endToEnd"]> {
  const url = await createDatabase(server, `bench_e2e_${newId()}`);
  const pool = createPool(url, { max: 10 });
  const queues = await ensureQueues(sqs, {
    queueName: `bench-e2e-${newId().slice(0, 8)}`,
    deadLetterQueueName: `bench-e2e-dlq-${newId().slice(0, 8)}`,
  });
  const concurrency = 4;
  try {
    const nodes = JSON.stringify([
      {
        id: "t",
        type: "trigger",
        data: {
          type: "trigger",
          label: "Start",
          config: { triggerType: "Schedule", scheduleCron: "* * * * *" },
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
    ]);
    const edges = JSON.stringify([{ id: "t-c", source: "t", target: "c" }]);
    // All slots a moment from now, so dispatch and runs start from one instant.
    const { rows } = await pool.query<{ slot: Date }>(
      "SELECT date_trunc('second', now()) + interval '2 seconds' AS slot",
    );
    const slot = rows[0]?.slot as Date;
    await pool.query(
      `INSERT INTO workflows (id, name, nodes, edges) SELECT lpad(i::text, 21, '0'), 'e2e ' || i, $2::jsonb, $3::jsonb
       FROM generate_series(1, $1) AS i`,
      [count, nodes, edges],
    );
    await pool.query(
      `INSERT INTO workflow_schedules (id, workflow_id, cron_expression, next_run_at)
       SELECT lpad(i::text, 20, '0') || 's', lpad(i::text, 21, '0'), '* * * * *', $2 FROM generate_series(1, $1) AS i`,
      [count, slot],
    );
    const executor = startExecutor({
      pool,
      sqs,
      queueUrl: queues.queueUrl,
      logger: silentLogger,
      concurrency,
      waitTimeSeconds: 1,
      runner: { ...runnerEntry(), env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" } },
    });
    const dispatcher = startDispatcherLoop({
      pool,
      logger: silentLogger,
      intervalMs: 200,
      send: (messages) => sendWorkflowMessages(sqs, queues.queueUrl, messages),
    });
    // One slot only: once its executions exist the dispatcher stops (a run past the next minute must
    // not add that minute's slot), then wait for every run to end.
    const countWhere = async (condition: string) => {
      const { rows: counted } = await pool.query<{ n: number }>(
        `SELECT count(*) AS n FROM workflow_executions WHERE scheduled_for = $1 AND ${condition}`,
        [slot],
      );
      return counted[0]?.n ?? 0;
    };
    while ((await countWhere("true")) < count) await new Promise((resolve) => setTimeout(resolve, 100));
    await dispatcher.stop();
    while ((await countWhere("status IN ('success', 'error', 'cancelled')")) < count) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await executor.stop();
    const { rows: runs } = await pool.query<{ lag_ms: number; end_ms: number }>(
      `SELECT extract(epoch FROM started_at - scheduled_for) * 1000 AS lag_ms,
              extract(epoch FROM completed_at - scheduled_for) * 1000 AS end_ms
       FROM workflow_executions WHERE scheduled_for = $1`,
      [slot],
    );
    const lags = runs.map((r) => Number(r.lag_ms));
    const lastEnd = Math.max(...runs.map((r) => Number(r.end_ms)));
    return {
      executions: count,
      executionsPerSecond: count / (lastEnd / 1000),
      slotToStartMs: {
        min: Math.round(Math.min(...lags)),
        p50: Math.round(percentile(lags, 50)),
        p95: Math.round(percentile(lags, 95)),
      },
      concurrency,
      runner: runnerEntry().kind,
    };
  } finally {
    await pool.end();
  }
}

interface SizeFixture {
  readonly total: number;
  readonly pool: Pool;
  readonly send: MessageSender;
  readonly queueUrl: string;
  readonly sql: number[];
  readonly full: number[];
  readonly bare: number[];
}

export async function runDispatchBench(options: DispatchBenchOptions = {}): Promise<DispatchBenchResult> {
  const due = options.due ?? 1000;
  const sizes = options.sizes ?? [10_000, 200_000];
  const repeats = options.repeats ?? 5;
  const dataRoot = await mkdtemp("/tmp/kh-bench-dispatch-");
  const server = await startEmbeddedPostgres({ dataDir: `${dataRoot}/data`, ephemeral: true });
  const sqsServer = await startEmbeddedSqs();
  const sqs = createSqsClient({ endpoint: sqsServer.endpoint, region: "us-east-1" }, {});
  const fixtures: SizeFixture[] = [];
  try {
    for (const total of sizes) {
      const url = await createDatabase(server, `bench_${total}`);
      const pool = createPool(url, { max: 10 });
      const queues = await ensureQueues(sqs, {
        queueName: `bench-${total}`,
        deadLetterQueueName: `bench-${total}-dlq`,
      });
      fixtures.push({
        total,
        pool,
        queueUrl: queues.queueUrl,
        send: (messages) => sendWorkflowMessages(sqs, queues.queueUrl, messages),
        sql: [],
        full: [],
        bare: [],
      });
      await fill(pool, total, due);
    }
    const noSend: MessageSender = async (messages) => ({ sent: [...messages], failed: [] });
    // Warm-up: one untimed pass per database (caches, JIT), then the sizes take turns in every repeat,
    // so a load change on the machine affects them alike.
    for (const f of fixtures) {
      await dispatchOnce({ pool: f.pool, send: noSend, logger: silentLogger });
      await rewind(f.pool, due);
    }
    for (let r = 0; r < repeats; r++) {
      for (const f of fixtures) {
        f.sql.push(
          await timed(
            async () =>
              void (await dispatchOnce({
                pool: f.pool,
                send: noSend,
                logger: silentLogger,
                batchSize: options.batchSize,
              })),
          ),
        );
        await rewind(f.pool, due);
        f.full.push(
          await timed(async () => {
            const report = await dispatchOnce({
              pool: f.pool,
              send: f.send,
              logger: silentLogger,
              batchSize: options.batchSize,
            });
            if (report.dispatched.length !== due || report.sent !== due) {
              throw new Error(`dispatched ${report.dispatched.length}, sent ${report.sent}; expected ${due}`);
            }
          }),
        );
        await rewind(f.pool, due);
        f.bare.push(await sendOnly(sqs, f.queueUrl, due));
      }
    }
    const rate = (values: number[]): Rate => ({ seconds: median(values), perSecond: due / median(values) });
    const results = fixtures.map((f) => {
      const dispatcher = rate(f.full);
      const sqlOnly = rate(f.sql);
      const sendOnlyRate = rate(f.bare);
      return {
        total: f.total,
        dispatcher,
        sqlOnly,
        sendOnly: sendOnlyRate,
        fractionOfParts: dispatcher.perSecond / Math.min(sqlOnly.perSecond, sendOnlyRate.perSecond),
      };
    });
    const first = results[0] as DispatchBenchResult["sizes"][number];
    const last = results[results.length - 1] as DispatchBenchResult["sizes"][number];
    return {
      name: "dispatch",
      due,
      sizes: results,
      ratio: first.dispatcher.perSecond / last.dispatcher.perSecond,
      endToEnd: options.endToEnd === 0 ? undefined : await endToEnd(server, sqs, options.endToEnd ?? 40),
    };
  } finally {
    for (const f of fixtures) await f.pool.end();
    sqs.destroy();
    await sqsServer.stop();
    await server.stop();
    await rm(dataRoot, { recursive: true, force: true });
  }
}

export function formatDispatchBench(result: DispatchBenchResult): string {
  const n = (value: number) => value.toFixed(0).padStart(8);
  const lines = [
    `dispatch: ${result.due} due schedules (median of repeats)`,
    `  ${"total schedules".padEnd(16)} ${"dispatcher".padStart(10)} ${"SQL alone".padStart(10)} ${"send alone".padStart(10)}  dispatcher / slower part`,
    ...result.sizes.map(
      (s) =>
        `  ${String(s.total).padEnd(16)} ${n(s.dispatcher.perSecond)}/s ${n(s.sqlOnly.perSecond)}/s ${n(s.sendOnly.perSecond)}/s  ${(s.fractionOfParts * 100).toFixed(0)}%`,
    ),
    `  ratio (due/s at ${result.sizes[0]?.total} / at ${result.sizes.at(-1)?.total}): ${result.ratio.toFixed(2)} (goal ~1)`,
  ];
  const e2e = result.endToEnd;
  if (e2e) {
    lines.push(
      `end to end: ${e2e.executions} scheduled executions, executor concurrency ${e2e.concurrency} (khctl run child processes, ${e2e.runner})`,
      `  ${e2e.executionsPerSecond.toFixed(2)} executions/s; slot -> runner start min ${e2e.slotToStartMs.min} ms, p50 ${e2e.slotToStartMs.p50} ms, p95 ${e2e.slotToStartMs.p95} ms (all slots at one instant: p95 is the queue behind the cap)`,
    );
  }
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatDispatchBench(await runDispatchBench()));
}
