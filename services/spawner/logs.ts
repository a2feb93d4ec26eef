import { Transform, type Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { Log, type V1Pod } from "@kubernetes/client-node";
import { RUNNER_CONTAINER, runnerSelector } from "../contracts/job-template.js";
import { isTerminal } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { getExecution } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { shownText } from "../workflow/shown.js";
import { type KubeApi, listPods } from "./kube.js";

/**
 * `khctl logs`: the runner pod's log while its Job exists (found by the execution-id label), else the
 * step log from Postgres, so there is always something useful to read.
 */

export interface StepLogRow {
  node_id: string;
  node_name: string | null;
  node_type: string | null;
  status: string;
  error: string | null;
  started_at: Date;
  completed_at: Date | null;
  duration_ms: number | null;
}

export interface LogsDeps {
  readonly db: Queryable;
  /** Unset when no cluster is configured: the step log is shown. */
  readonly kube?: KubeApi;
  /** Where the log goes (stdout). */
  readonly out: Writable;
  /** One-line notes for people (stderr): where the log comes from, and why. */
  readonly note: (line: string) => void;
}

export interface LogsOptions {
  /** Keep streaming until the run ends. */
  readonly follow?: boolean;
  /** Stops following. */
  readonly signal?: AbortSignal;
  /** Step-log poll interval while following, ms. Default 1000. */
  readonly pollMs?: number;
}

export class ExecutionNotFoundError extends Error {
  override name = "ExecutionNotFoundError";
}

export async function listStepLogs(db: Queryable, executionId: string): Promise<StepLogRow[]> {
  const { rows } = await db.query<StepLogRow>(
    `SELECT node_id, node_name, node_type, status, error, started_at, completed_at, duration_ms
     FROM workflow_execution_logs WHERE execution_id = $1 ORDER BY started_at, node_id`,
    [executionId],
  );
  return rows;
}

/** One line per step state: `12:00:01.250 http-1 (HTTP Request) success 120ms`. */
export function formatStepLine(step: StepLogRow): string {
  const at = (step.completed_at ?? step.started_at).toISOString().slice(11, 23);
  const name = step.node_name && step.node_name !== step.node_id ? ` (${step.node_name})` : "";
  const duration = step.duration_ms === null ? "" : ` ${step.duration_ms}ms`;
  const error = step.error ? `: ${shownText(step.error)}` : "";
  return `${at} ${step.node_id}${name} ${step.status}${duration}${error}\n`;
}

/** The newest runner pod of the execution, or null (no Job, or the API cannot be reached: noted). */
async function findRunnerPod(deps: LogsDeps, executionId: string): Promise<V1Pod | null> {
  if (!deps.kube) return null;
  try {
    const pods = await listPods(deps.kube, runnerSelector(executionId));
    pods.sort(
      (a, b) =>
        (b.metadata?.creationTimestamp?.getTime() ?? 0) - (a.metadata?.creationTimestamp?.getTime() ?? 0),
    );
    return pods[0] ?? null;
  } catch (error) {
    deps.note(`Kubernetes API not reachable (${errorMessage(error)}); showing the step log from Postgres`);
    return null;
  }
}

/** The runner's log, line by line, as views show text (a URL's secrets masked, workflow/shown.ts). */
function maskedLines(): Transform {
  let partial = "";
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      done(null, lines.map((line) => `${shownText(line)}\n`).join(""));
    },
    flush(done) {
      done(null, partial ? shownText(partial) : null);
    },
  });
}

async function streamPodLog(
  deps: LogsDeps & { kube: KubeApi },
  pod: string,
  options: LogsOptions,
): Promise<void> {
  const { kube } = deps;
  if (!options.follow) {
    const text = await kube.core.readNamespacedPodLog({
      name: pod,
      namespace: kube.namespace,
      container: RUNNER_CONTAINER,
    });
    deps.out.write(shownText(text));
    return;
  }
  const through = maskedLines();
  through.pipe(deps.out, { end: false });
  const ended = new Promise<void>((resolve, reject) => {
    through.on("end", resolve);
    through.on("error", reject);
  });
  const controller = await new Log(kube.kc).log(kube.namespace, pod, RUNNER_CONTAINER, through, {
    follow: true,
  });
  const stop = () => {
    controller.abort();
    through.end();
  };
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await ended;
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
}

async function showStepLog(deps: LogsDeps, executionId: string, options: LogsOptions): Promise<void> {
  const printed = new Map<string, string>();
  const printNew = async () => {
    for (const step of await listStepLogs(deps.db, executionId)) {
      const line = formatStepLine(step);
      if (printed.get(step.node_id) === line) continue;
      printed.set(step.node_id, line);
      deps.out.write(line);
    }
  };
  for (;;) {
    await printNew();
    const execution = await getExecution(deps.db, executionId);
    const done = !execution || isTerminal(execution.status);
    if (!options.follow || done || options.signal?.aborted) {
      if (execution && (done || !options.follow)) {
        const error = execution.error ? `: ${shownText(execution.error)}` : "";
        deps.out.write(`execution ${executionId} ${execution.status}${error}\n`);
      }
      return;
    }
    await delay(options.pollMs ?? 1000, undefined, { signal: options.signal }).catch(() => {});
  }
}

/** Writes the execution's log; resolves where it came from. Throws ExecutionNotFoundError for an unknown id. */
export async function showExecutionLogs(
  deps: LogsDeps,
  executionId: string,
  options: LogsOptions = {},
): Promise<"pod" | "database"> {
  const execution = await getExecution(deps.db, executionId);
  if (!execution) throw new ExecutionNotFoundError(`execution ${executionId} not found`);
  const pod = await findRunnerPod(deps, executionId);
  const podName = pod?.metadata?.name;
  if (deps.kube && pod && podName) {
    const waiting = pod.status?.containerStatuses?.find((s) => s.name === RUNNER_CONTAINER)?.state?.waiting;
    if (pod.status?.phase === "Pending" && !options.follow) {
      deps.note(
        `runner pod ${podName} has not started (${waiting?.reason ?? "Pending"}); showing the step log`,
      );
    } else {
      try {
        deps.note(`runner pod ${podName}`);
        await streamPodLog({ ...deps, kube: deps.kube }, podName, options);
        return "pod";
      } catch (error) {
        deps.note(`could not read the log of pod ${podName} (${errorMessage(error)}); showing the step log`);
      }
    }
  } else if (deps.kube) {
    deps.note(
      `no runner Job for ${executionId} (finished and cleaned up, or never created); step log from Postgres`,
    );
  }
  await showStepLog(deps, executionId, options);
  return "database";
}
