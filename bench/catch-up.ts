import { pathToFileURL } from "node:url";
import { DISPATCHER_SETTINGS } from "../services/contracts/settings.js";
import { silentLogger } from "../services/core/logger.js";
import { maxOf } from "../services/core/settings.js";
import type { Pool } from "../services/db/pool.js";
import { dispatchOnce } from "../services/dispatcher/dispatcher.js";
import { sendWorkflowMessages } from "../services/queue/send.js";
import { alsoHolding, type Figure, figure, median } from "./figures.js";
import { type BenchStack, startBenchStack } from "./stack.js";

/**
 * Catch-up benchmark (issue 22): one every-second schedule a year behind, dispatched with the largest
 * catch-up window the flag accepts, against a bare baseline in the same run: the same schedule due now
 * with nothing missed. Both are whole passes (claim, plan, insert, advance, commit, send). The catch-up
 * rule finds the latest slot with one backward search, so the two should cost about the same; walking the
 * missed slots took 32 s at a 1-day window. Figure: dispatch-catch-up (s, against the on-time pass, goal
 * <= 3 x and < 1 s: counting the skipped slots, capped at 100, adds up to 101 forward steps, ~5 ms). Run alone: `npx tsx bench/catch-up.ts`.
 */

export interface CatchUpBenchOptions {
  /** Repetitions per arm; the median is reported. Default 5. */
  readonly repeats?: number;
}

export interface CatchUpBenchResult {
  readonly name: "catch-up";
  /** The catch-up window used, seconds (the flag's largest). */
  readonly windowSeconds: number;
  /** Median seconds of a pass with the schedule a year behind. */
  readonly behindSeconds: number;
  /** Median seconds of a pass with the schedule due now, nothing missed. */
  readonly onTimeSeconds: number;
  /** What the behind pass reported: the slot fired and the skipped count (null: more than 100). */
  readonly fired: string | null;
  readonly skippedCount: number | null;
  readonly figures: Figure[];
}

const SCHEDULE_ID = "catchupschedule000001";

async function insertSchedule(pool: Pool): Promise<void> {
  await pool.query("INSERT INTO workflows (id, name) VALUES ('catchupworkflow000001', 'catch-up bench')");
  await pool.query(
    `INSERT INTO workflow_schedules (id, workflow_id, cron_expression, timezone, next_run_at)
     VALUES ($1, 'catchupworkflow000001', '* * * * * *', 'UTC', now())`,
    [SCHEDULE_ID],
  );
}

/** Puts the schedule's first undispatched slot `behind` back from now (a whole second), runs gone. */
async function rewind(pool: Pool, behind: string): Promise<void> {
  await pool.query("DELETE FROM workflow_executions");
  await pool.query(
    "UPDATE workflow_schedules SET next_run_at = date_trunc('second', now() - $2::interval) WHERE id = $1",
    [SCHEDULE_ID, behind],
  );
}

/** One whole dispatch pass with the schedule `behind` (a Postgres interval) back; its seconds and report. */
async function timedPass(stack: BenchStack, queueUrl: string, windowSeconds: number, behind: string) {
  await rewind(stack.pool, behind);
  const started = performance.now();
  const report = await dispatchOnce({
    pool: stack.pool,
    send: (messages) => sendWorkflowMessages(stack.sqs, queueUrl, messages),
    logger: silentLogger,
    catchUpWindowMs: windowSeconds * 1000,
  });
  const seconds = (performance.now() - started) / 1000;
  if (report.dispatched.length !== 1 || report.sent !== 1) {
    throw new Error(
      `behind ${behind}: dispatched ${report.dispatched.length}, sent ${report.sent}; expected 1`,
    );
  }
  return { seconds, report };
}

export async function runCatchUpBench(options: CatchUpBenchOptions = {}): Promise<CatchUpBenchResult> {
  const repeats = options.repeats ?? 5;
  const windowSeconds = maxOf(DISPATCHER_SETTINGS.catchUpWindowSeconds);
  const stack = await startBenchStack("catch-up", { peers: {} });
  try {
    const { queueUrl } = await stack.queues("catch-up");
    await insertSchedule(stack.pool);
    const pass = (behind: string) => timedPass(stack, queueUrl, windowSeconds, behind);
    await pass("0 seconds"); // warm-up: caches, JIT
    const behind: number[] = [];
    const onTime: number[] = [];
    let last: Awaited<ReturnType<typeof pass>> | undefined;
    // The two arms take turns, so a load change on the machine affects them alike.
    for (let r = 0; r < repeats; r++) {
      last = await pass("1 year");
      behind.push(last.seconds);
      onTime.push((await pass("0 seconds")).seconds);
    }
    const behindSeconds = median(behind);
    const onTimeSeconds = median(onTime);
    const skipped = last?.report.skipped[0];
    return {
      name: "catch-up",
      windowSeconds,
      behindSeconds,
      onTimeSeconds,
      fired: last?.report.dispatched[0]?.scheduledFor.toISOString() ?? null,
      skippedCount: skipped ? skipped.count : 0,
      figures: [catchUpFigure(behindSeconds, onTimeSeconds, windowSeconds)],
    };
  } finally {
    await stack.stop();
  }
}

function catchUpFigure(behindSeconds: number, onTimeSeconds: number, windowSeconds: number): Figure {
  return alsoHolding(
    behindSeconds < 1,
    "<= 3, and < 1 s",
    figure(
      "dispatch-catch-up",
      behindSeconds,
      "s",
      onTimeSeconds,
      { atMost: 3 },
      `limit: the same pass with the schedule on time (nothing missed); the behind schedule is every second, a year back, window ${windowSeconds} s`,
    ),
  );
}

export function formatCatchUpBench(result: CatchUpBenchResult): string {
  const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
  return [
    `catch-up: one every-second schedule, window ${result.windowSeconds} s (the flag's largest), median pass`,
    `  a year behind: ${ms(result.behindSeconds)} (fired ${result.fired}, skipped ${result.skippedCount ?? "more than 100"})`,
    `  on time:       ${ms(result.onTimeSeconds)}`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatCatchUpBench(await runCatchUpBench()));
}
