import { pathToFileURL } from "node:url";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import pg from "pg";
import type { WorkflowMessage } from "../services/contracts/message.js";
import { newId } from "../services/core/ids.js";
import { silentLogger } from "../services/core/logger.js";
import { migrate } from "../services/db/migrate.js";
import { createPool, type Pool } from "../services/db/pool.js";
import { dispatchOnce } from "../services/dispatcher/dispatcher.js";
import type { MessageSender } from "../services/dispatcher/outbox.js";
import type { RunningPostgres } from "../services/embedded/postgres.js";
import { messageAttributes, SEND_BATCH_SIZE, sendWorkflowMessages } from "../services/queue/send.js";
import { type Figure, figure, median } from "./figures.js";
import { startBenchStack } from "./stack.js";

/**
 * Dispatch benchmark (issue 3): 1,000 due schedules among 10,000 and among 200,000. For each size it
 * measures, in the same run and against the same embedded Postgres and fauxqs (in a process of its own, as SQS is):
 * - dispatcher: dispatchOnce() end to end (claim, insert, advance, commit, send, mark sent), due/s;
 * - SQL alone: the same pass with a sender that does nothing (claim-insert-advance and the outbox mark);
 * - SendMessageBatch alone: the same number of messages, 10 per batch, all batches at once;
 * and the ratio of the dispatcher's rate at 10,000 to that at 200,000 (the goal is ~1: cost follows the
 * due schedules, not all schedules). Figures: dispatch-10k and dispatch-200k (due/s against the slower
 * bare part, goal >= 80 %), dispatch-size-ratio. Run alone: `npx tsx bench/dispatch.ts`.
 */

export interface DispatchBenchOptions {
  /** Due schedules per measurement. Default 1000. */
  readonly due?: number;
  /** Total schedules, one database each. Default [10000, 200000]. */
  readonly sizes?: readonly number[];
  /** Repetitions per measurement; the median is reported. Default 5. */
  readonly repeats?: number;
  /** Due schedules claimed per transaction. Default: the dispatcher's (DISPATCH_BATCH_SIZE). */
  readonly batchSize?: number;
}

interface Rate {
  /** Median seconds per pass. */
  readonly seconds: number;
  /** Due schedules (or messages) per second. */
  readonly perSecond: number;
  /** Median CPU of this process's thread per pass, seconds: the share of the pass the dispatcher's own work takes. */
  readonly cpuSeconds: number;
}

/** One timed pass: its wall time and this process's CPU time, seconds. */
interface Timing {
  readonly seconds: number;
  readonly cpuSeconds: number;
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
  readonly figures: Figure[];
}

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

async function timed(fn: () => Promise<void>): Promise<Timing> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await fn();
  const cpu = process.cpuUsage(cpuBefore);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The bare limit of SendMessageBatch: `count` messages, 10 per batch, all batches in flight at once. */
async function sendOnly(sqs: SQSClient, queueUrl: string, count: number): Promise<Timing> {
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

interface SizeFixture {
  readonly total: number;
  readonly pool: Pool;
  readonly send: MessageSender;
  readonly queueUrl: string;
  readonly sql: Timing[];
  readonly full: Timing[];
  readonly bare: Timing[];
}

export async function runDispatchBench(options: DispatchBenchOptions = {}): Promise<DispatchBenchResult> {
  const due = options.due ?? 1000;
  const stack = await startBenchStack("dispatch", { peers: {} });
  const fixtures: SizeFixture[] = [];
  try {
    for (const total of options.sizes ?? [10_000, 200_000]) {
      fixtures.push(await sizeFixture(stack, total, due));
    }
    await warmUp(fixtures, due);
    for (let r = 0; r < (options.repeats ?? 5); r++) {
      for (const f of fixtures) await measureRound(f, stack.sqs, due, options.batchSize);
    }
    return dispatchResult(
      due,
      fixtures.map((f) => sizeResult(f, due)),
    );
  } finally {
    for (const f of fixtures) await f.pool.end();
    await stack.stop();
  }
}

type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;
type SizeResult = DispatchBenchResult["sizes"][number];

const noSend: MessageSender = async (messages) => ({ sent: [...messages], failed: [] });

/** A database of `total` schedules, `due` of them due, and a queue of its own. */
async function sizeFixture(stack: BenchStack, total: number, due: number): Promise<SizeFixture> {
  const pool = createPool(await createDatabase(stack.server, `bench_${total}`), { max: 10 });
  const queues = await stack.queues(String(total));
  await fill(pool, total, due);
  return {
    total,
    pool,
    queueUrl: queues.queueUrl,
    send: (messages) => sendWorkflowMessages(stack.sqs, queues.queueUrl, messages),
    sql: [],
    full: [],
    bare: [],
  };
}

/** One untimed pass per database (caches, JIT) before any is timed. */
async function warmUp(fixtures: SizeFixture[], due: number): Promise<void> {
  for (const f of fixtures) {
    await dispatchOnce({ pool: f.pool, send: noSend, logger: silentLogger });
    await rewind(f.pool, due);
  }
}

/**
 * One repeat for one size: SQL alone, the whole pass, SendMessageBatch alone. The sizes take turns in every
 * repeat, so a load change on the machine affects them alike.
 */
async function measureRound(f: SizeFixture, sqs: SQSClient, due: number, batchSize?: number): Promise<void> {
  const pass = (send: MessageSender) => dispatchOnce({ pool: f.pool, send, logger: silentLogger, batchSize });
  f.sql.push(await timed(async () => void (await pass(noSend))));
  await rewind(f.pool, due);
  f.full.push(
    await timed(async () => {
      const report = await pass(f.send);
      if (report.dispatched.length !== due || report.sent !== due) {
        throw new Error(`dispatched ${report.dispatched.length}, sent ${report.sent}; expected ${due}`);
      }
    }),
  );
  await rewind(f.pool, due);
  f.bare.push(await sendOnly(sqs, f.queueUrl, due));
}

function rateOf(timings: Timing[], due: number): Rate {
  const seconds = median(timings.map((t) => t.seconds));
  return { seconds, perSecond: due / seconds, cpuSeconds: median(timings.map((t) => t.cpuSeconds)) };
}

function sizeResult(f: SizeFixture, due: number): SizeResult {
  const dispatcher = rateOf(f.full, due);
  const sqlOnly = rateOf(f.sql, due);
  const sendOnlyRate = rateOf(f.bare, due);
  return {
    total: f.total,
    dispatcher,
    sqlOnly,
    sendOnly: sendOnlyRate,
    fractionOfParts: dispatcher.perSecond / Math.min(sqlOnly.perSecond, sendOnlyRate.perSecond),
  };
}

/** A size's rate against the slower of its bare parts (goal >= 80 %). */
function sizeFigure(s: SizeResult): Figure {
  return figure(
    `dispatch-${s.total >= 1000 ? `${s.total / 1000}k` : s.total}`,
    s.dispatcher.perSecond,
    "due/s",
    Math.min(s.sqlOnly.perSecond, s.sendOnly.perSecond),
    { atLeast: 0.8 },
    `limit: the slower of the pass's SQL alone (${s.sqlOnly.perSecond.toFixed(0)}/s) and SendMessageBatch alone (${s.sendOnly.perSecond.toFixed(0)}/s); the dispatcher's thread CPU per pass: ${ms(s.dispatcher.cpuSeconds)} of its ${ms(s.dispatcher.seconds)} (SQL alone ${ms(s.sqlOnly.cpuSeconds)}, send alone ${ms(s.sendOnly.cpuSeconds)})`,
  );
}

function dispatchResult(due: number, results: SizeResult[]): DispatchBenchResult {
  const first = results[0] as SizeResult;
  const last = results[results.length - 1] as SizeResult;
  const ratio = first.dispatcher.perSecond / last.dispatcher.perSecond;
  return {
    name: "dispatch",
    due,
    sizes: results,
    ratio,
    figures: [
      ...results.map(sizeFigure),
      figure(
        "dispatch-size-ratio",
        ratio,
        "x",
        1,
        { between: [0.8, 1.25] },
        `due/s at ${first.total} / at ${last.total}: cost follows the due schedules, not all`,
      ),
    ],
  };
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(0)} ms`;

export function formatDispatchBench(result: DispatchBenchResult): string {
  const n = (value: number) => value.toFixed(0).padStart(8);
  const cpu = (r: Rate) => `${ms(r.cpuSeconds)}/${ms(r.seconds)}`.padStart(15);
  return [
    `dispatch: ${result.due} due schedules (median of repeats)`,
    `  ${"total schedules".padEnd(16)} ${"dispatcher".padStart(10)} ${"SQL alone".padStart(10)} ${"send alone".padStart(10)}  dispatcher / slower part`,
    ...result.sizes.map(
      (s) =>
        `  ${String(s.total).padEnd(16)} ${n(s.dispatcher.perSecond)}/s ${n(s.sqlOnly.perSecond)}/s ${n(s.sendOnly.perSecond)}/s  ${(s.fractionOfParts * 100).toFixed(0)}%`,
    ),
    "  the dispatcher's thread, CPU / wall per pass (one thread: its CPU bounds the pass, however the parts overlap):",
    `  ${"total schedules".padEnd(16)} ${"dispatcher".padStart(15)} ${"SQL alone".padStart(15)} ${"send alone".padStart(15)}`,
    ...result.sizes.map(
      (s) => `  ${String(s.total).padEnd(16)} ${cpu(s.dispatcher)} ${cpu(s.sqlOnly)} ${cpu(s.sendOnly)}`,
    ),
    `  ratio (due/s at ${result.sizes[0]?.total} / at ${result.sizes.at(-1)?.total}): ${result.ratio.toFixed(2)} (goal ~1)`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatDispatchBench(await runDispatchBench()));
}
