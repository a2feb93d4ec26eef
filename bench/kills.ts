import { spawn } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { ENV } from "../services/contracts/names.js";
import { silentLogger } from "../services/core/logger.js";
import { createExecution } from "../services/db/executions.js";
import { createWorkflow } from "../services/db/workflows.js";
import { startExecutor } from "../services/executor/executor.js";
import { sweepStaleRuns } from "../services/executor/stale-runs.js";
import { sendWorkflowMessage } from "../services/queue/send.js";
import { validateWorkflow } from "../services/workflow/definition.js";
import { buildDist } from "../test/helpers/build.js";
import { CLI_ENTRY } from "../test/helpers/cli-process.js";
import { type Figure, figure } from "./figures.js";
import { type BenchStack, startBenchStack, waitUntil } from "./stack.js";

/**
 * Crash bench: SIGKILL at random moments, then count the step rows left `running` under finished
 * executions (goal 0: whoever records a run's end closes its steps, migration 0004).
 * - runner kills: an executor in this process (the compiled `khctl run` per execution, as `khctl dev`'s)
 *   runs a workflow of three steps, two of them HTTP calls a 127.0.0.1 server answers after a random
 *   0-300 ms; each run's runner is SIGKILLed a random 0-900 ms after it is handed the run (before its
 *   claim, mid-step, between steps, while recording, or after its end). The executor records the dead run.
 * - executor kills: `khctl executor` in a process group of its own with two runs in flight, SIGKILLed with
 *   its runners a random 0-900 ms after the first run started, as a crash-looping container is; then the
 *   stale-run sweep (what a restarted executor does once the run timeout has passed) records the lost runs.
 * Done twice on one database: with the rule, then, as the baseline that shows what the same kills leave
 * without it, with its trigger dropped. Run alone: `npx tsx bench/kills.ts`.
 */

export interface KillsBenchOptions {
  /** Runner kills per phase. Default 12. */
  readonly runnerKills?: number;
  /** Executor-with-its-runners kills per phase. Default 8. */
  readonly executorKills?: number;
}

interface PhaseResult {
  /** Signals delivered to a live process. */
  readonly kills: number;
  /** Executions that ended error because their runner died. */
  readonly killedRuns: number;
  /** Step rows `running` under executions that are finished. */
  readonly openSteps: number;
}

export interface KillsBenchResult {
  readonly name: "kills";
  readonly withRule: PhaseResult;
  readonly withoutRule: PhaseResult;
  readonly figures: Figure[];
}

const MAX_KILL_DELAY_MS = 900;
const randomMs = (max: number) => Math.floor(Math.random() * max);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers every request after a random 0-300 ms: the steps the kills land in. */
async function startDelayServer(): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((_request, response) => {
    const timer = setTimeout(() => response.end("ok"), randomMs(300));
    response.on("close", () => clearTimeout(timer));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function createKillWorkflow(stack: BenchStack, name: string, base: string): Promise<string> {
  const http = (id: string) => ({
    id,
    data: { type: "action", label: id, config: { actionType: "HTTP Request", endpoint: `${base}/` } },
  });
  const definition = validateWorkflow({
    name,
    nodes: [
      { id: "t", data: { type: "trigger", label: "Start", config: { triggerType: "Manual" } } },
      http("a"),
      http("b"),
      {
        id: "c",
        data: { type: "action", label: "c", config: { actionType: "Condition", condition: "true" } },
      },
    ],
    edges: [
      { id: "t-a", source: "t", target: "a" },
      { id: "a-b", source: "a", target: "b" },
      { id: "b-c", source: "b", target: "c" },
    ],
  });
  return (await createWorkflow(stack.pool, { definition })).workflow.id;
}

/** A new execution of the workflow with its message on the queue. */
async function enqueue(stack: BenchStack, queueUrl: string, workflowId: string): Promise<string> {
  const executionId = await createExecution(stack.pool, {
    workflowId,
    triggerType: "manual",
    enqueued: true,
  });
  await sendWorkflowMessage(stack.sqs, queueUrl, {
    executionId,
    workflowId,
    triggerType: "manual",
    triggerTime: new Date().toISOString(),
  });
  return executionId;
}

/** SIGKILL to a pid (a negative one: its group); whether a live process got it. */
function kill(pid: number): boolean {
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

/** Runs one at a time, each runner killed at a random moment; returns the signals delivered. */
async function killRunners(stack: BenchStack, workflowId: string, wanted: number): Promise<number> {
  const { queueUrl } = await stack.queues("kill-runners");
  const executor = startExecutor({
    pool: stack.pool,
    sqs: stack.sqs,
    queueUrl,
    logger: silentLogger,
    waitTimeSeconds: 1,
    concurrency: 1,
    runner: {
      cliEntry: CLI_ENTRY,
      execArgv: [],
      env: { ...process.env, DATABASE_URL: stack.url, LOG_LEVEL: "warn" },
    },
  });
  let kills = 0;
  try {
    while (kills < wanted) {
      const started = once(executor.events, "start");
      const ended = once(executor.events, "end");
      await enqueue(stack, queueUrl, workflowId);
      const [{ pid }] = await started;
      await sleep(randomMs(MAX_KILL_DELAY_MS));
      if (pid !== undefined && kill(pid)) kills++;
      await ended;
    }
  } finally {
    await executor.stop({ timeoutMs: 10_000 });
  }
  return kills;
}

/** Whether one of the executions is running (its runner claimed it). */
async function anyRunning(stack: BenchStack, ids: string[]): Promise<boolean> {
  const { rows } = await stack.pool.query(
    "SELECT 1 FROM workflow_executions WHERE id = ANY($1) AND status = 'running' LIMIT 1",
    [ids],
  );
  return rows.length > 0;
}

/** One `khctl executor` with two runs in flight, killed with its runners; then the stale-run sweep. */
async function killExecutorOnce(stack: BenchStack, workflowId: string): Promise<boolean> {
  const { queueUrl } = await stack.queues("kill-executor");
  const ids = [await enqueue(stack, queueUrl, workflowId), await enqueue(stack, queueUrl, workflowId)];
  const child = spawn(process.execPath, [CLI_ENTRY, "executor", "--concurrency", "2"], {
    env: {
      ...process.env,
      LOG_LEVEL: "warn",
      [ENV.databaseUrl]: stack.url,
      [ENV.sqsQueueUrl]: queueUrl,
      [ENV.awsEndpointUrl]: stack.sqsEndpoint,
      [ENV.awsRegion]: "us-east-1",
      [ENV.awsAccessKeyId]: "test",
      [ENV.awsSecretAccessKey]: "test",
    },
    stdio: "ignore",
    detached: true,
  });
  const exited = once(child, "exit");
  let killed = false;
  try {
    await waitUntil("a run of the executor to start", () => anyRunning(stack, ids), { timeoutMs: 60_000 });
    await sleep(randomMs(MAX_KILL_DELAY_MS));
    killed = kill(-(child.pid as number));
    await exited;
  } finally {
    if (!killed) kill(-(child.pid as number));
  }
  // Everything that ran it is dead: what a restarted executor's sweep does once the run timeout has passed.
  await sweepStaleRuns({
    db: stack.pool,
    logger: silentLogger,
    policy: { runningAfterSeconds: 0, pendingAfterSeconds: null },
    isOurs: () => false,
  });
  return killed;
}

async function countPhase(stack: BenchStack, workflowId: string, kills: number): Promise<PhaseResult> {
  const { rows } = await stack.pool.query<{ open: number; killed: number }>(
    `SELECT
       (SELECT count(*)::int FROM workflow_execution_logs l JOIN workflow_executions e ON e.id = l.execution_id
        WHERE e.workflow_id = $1 AND l.status = 'running' AND e.status IN ('success', 'error', 'cancelled')) AS open,
       (SELECT count(*)::int FROM workflow_executions
        WHERE workflow_id = $1 AND status = 'error' AND (error LIKE 'runner process ended%' OR error LIKE 'runner lost%')) AS killed`,
    [workflowId],
  );
  return { kills, killedRuns: rows[0]?.killed ?? 0, openSteps: rows[0]?.open ?? 0 };
}

async function runPhase(
  stack: BenchStack,
  name: string,
  base: string,
  options: Required<KillsBenchOptions>,
): Promise<PhaseResult> {
  const workflowId = await createKillWorkflow(stack, name, base);
  let kills = await killRunners(stack, workflowId, options.runnerKills);
  for (let done = 0; done < options.executorKills; ) {
    if (await killExecutorOnce(stack, workflowId)) {
      kills++;
      done++;
    }
  }
  return countPhase(stack, workflowId, kills);
}

export async function runKillsBench(options: KillsBenchOptions = {}): Promise<KillsBenchResult> {
  const settings = { runnerKills: options.runnerKills ?? 12, executorKills: options.executorKills ?? 8 };
  await buildDist();
  const stack = await startBenchStack("kills");
  const server = await startDelayServer();
  try {
    const withRule = await runPhase(stack, "kills with the rule", server.base, settings);
    await stack.pool.query("DROP TRIGGER workflow_executions_close_steps ON workflow_executions");
    const withoutRule = await runPhase(stack, "kills without the rule", server.base, settings);
    return {
      name: "kills",
      withRule,
      withoutRule,
      figures: [
        figure(
          "open-steps-after-kills",
          withRule.openSteps,
          "rows",
          withRule.kills,
          { atMost: 0 },
          `limit: the ${withRule.kills} SIGKILLs (${settings.runnerKills} of a runner, ${settings.executorKills} of an executor with its runners) at random moments; ${withRule.killedRuns} runs died mid-run; the same kills with the rule's trigger dropped left ${withoutRule.openSteps} open (${withoutRule.killedRuns} runs died)`,
        ),
      ],
    };
  } finally {
    await server.close();
    await stack.stop();
  }
}

export function formatKillsBench(result: KillsBenchResult): string {
  const line = (label: string, phase: PhaseResult) =>
    `  ${label}: ${phase.kills} kills, ${phase.killedRuns} runs died mid-run, ${phase.openSteps} step rows left running under finished runs`;
  return [
    "kills: SIGKILL of runners and of an executor with its runners, at random moments",
    line("with the rule (migration 0004)", result.withRule),
    line("trigger dropped (baseline)", result.withoutRule),
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatKillsBench(await runKillsBench()));
}
