import { isTerminal } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { listStepLogs } from "../../db/execution-logs.js";
import { getExecution } from "../../db/executions.js";
import type { Queryable } from "../../db/pool.js";
import { getWorkflow } from "../../db/workflows.js";
import { type ExecutionReport, toReport } from "../../status/execution-report.js";
import { clock, duration, shownError, shownJson, statusBadge, when } from "../format.js";
import { type GraphEdge, type GraphNode, graphOf, renderGraph } from "../graph.js";
import { type Html, html, query } from "../html.js";

/**
 * One execution: its graph with each node coloured by its step's status, the step table (inputs and
 * outputs masked), errors and timing; in the hybrid stack its Job and the runner pod's phase. The report
 * is the CLI's (`khctl execution --json`).
 */

/** The runner pod of an execution's Job, when a cluster is configured. */
export interface RunnerPod {
  readonly name: string;
  readonly phase: string;
}
export type RunnerPodLookup = (executionId: string) => Promise<RunnerPod | null>;

export interface ExecutionPage {
  readonly report: ExecutionReport;
  readonly workflowName: string | null;
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  /** Only with a Job name and a cluster: the pod, null when none exists, or why it could not be read. */
  readonly pod?: RunnerPod | null | { error: string };
}

/** The execution's page, or null when it does not exist. */
export async function loadExecution(
  db: Queryable,
  executionId: string,
  runnerPod?: RunnerPodLookup,
): Promise<ExecutionPage | null> {
  const row = await getExecution(db, executionId);
  if (!row) return null;
  const [logs, workflow] = await Promise.all([
    listStepLogs(db, executionId),
    getWorkflow(db, row.workflow_id),
  ]);
  const report = toReport(row, logs);
  const statusOf = new Map(report.steps.map((step) => [step.nodeId, step.status]));
  const { nodes, edges } = graphOf(workflow, (nodeId) => statusOf.get(nodeId));
  let pod: ExecutionPage["pod"];
  if (row.job_name && runnerPod) {
    pod = await runnerPod(executionId).catch((error: unknown) => ({ error: errorMessage(error) }));
  }
  return {
    report,
    workflowName: workflow?.name ?? null,
    nodes,
    edges,
    ...(pod !== undefined ? { pod } : {}),
  };
}

function podLine(pod: ExecutionPage["pod"]): Html {
  if (pod === undefined) return html``;
  if (pod === null)
    return html`<dt>Runner pod</dt><dd><span class="none">none (the Job finished and was cleaned up, or never started)</span></dd>`;
  if ("error" in pod) return html`<dt>Runner pod</dt><dd>could not be read: ${pod.error}</dd>`;
  return html`<dt>Runner pod</dt><dd><code>${pod.name}</code> ${pod.phase}</dd>`;
}

function summary(page: ExecutionPage): Html {
  const e = page.report.execution;
  const trigger =
    e.triggerType === "schedule" && e.scheduledFor
      ? html`schedule, slot ${when(e.scheduledFor)}`
      : html`${e.triggerType}`;
  const error = shownError(e.error);
  return html`<dl class="facts">
<dt>Status</dt><dd>${statusBadge(e.status)}</dd>
<dt>Workflow</dt><dd>${page.workflowName === null ? html`${e.workflowId} <span class="none">(deleted)</span>` : html`<a href="/workflows/${e.workflowId}">${page.workflowName}</a>`}</dd>
<dt>Trigger</dt><dd>${trigger}</dd>
<dt>Created</dt><dd>${when(e.createdAt)}</dd>
<dt>Started</dt><dd>${when(e.startedAt)}</dd>
<dt>Completed</dt><dd>${when(e.completedAt)}</dd>
<dt>Duration</dt><dd>${duration(e.durationMs)}</dd>
<dt>Steps</dt><dd>${e.completedSteps}/${e.totalSteps}${e.currentNodeId ? html`, now at <code>${e.currentNodeId}</code>` : ""}</dd>
${e.jobName ? html`<dt>Kubernetes Job</dt><dd><code>${e.jobName}</code></dd>` : ""}
${podLine(page.pod)}
${error ? html`<dt>Error</dt><dd class="error-text">${error}</dd>` : ""}
</dl>`;
}

function value(label: string, json: string): Html {
  if (!json) return html`<span class="none">–</span>`;
  return html`<details><summary>${label}</summary><pre>${json}</pre></details>`;
}

function steps(report: ExecutionReport): Html {
  if (report.steps.length === 0) return html`<p>No steps recorded yet.</p>`;
  const rows = report.steps.map((step, index) => {
    const error = shownError(step.error);
    return html`<tr data-node="${step.nodeId}">
  <td class="number" data-label="Step">${index + 1}</td>
  <th scope="row">${step.nodeName ?? step.nodeId}<br><code class="id">${step.nodeId}</code></th>
  <td data-label="Type">${step.nodeType ?? ""}</td>
  <td data-label="Status">${statusBadge(step.status)}</td>
  <td data-label="Started">${clock(step.startedAt)}</td>
  <td class="number" data-label="Duration">${duration(step.durationMs)}</td>
  <td data-label="Input">${value("input", shownJson(step.input))}</td>
  <td data-label="Output">${value("output", shownJson(step.output))}</td>
  <td data-label="Error" class="${step.status === "error" ? "error-text" : "reason"}">${error}</td>
</tr>`;
  });
  // class stack: on a narrow window each step is a card of labelled lines, as the lists' rows are.
  return html`<div class="scroll" role="region" tabindex="0" aria-label="Steps"><table class="steps stack">
<caption>Steps, in the order they started</caption>
<thead><tr><th scope="col">#</th><th scope="col">Node</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Started (UTC)</th><th scope="col">Duration</th><th scope="col">Input</th><th scope="col">Output</th><th scope="col">Error</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

/**
 * The page's body; while the run is unfinished the script reloads it on each change the feed reports.
 * `actions`: the re-run and cancel buttons (run-actions.ts).
 */
export function renderExecution(page: ExecutionPage, actions: Html = html``): Html {
  const e = page.report.execution;
  const input = shownJson(e.input);
  const output = shownJson(e.output);
  return html`<div id="execution" data-status="${e.status}"${isTerminal(e.status) ? "" : html` data-feed="/executions/events${query({ id: e.id })}"`}>
${summary(page)}
${actions}
<h2>Graph</h2>
${page.nodes.length ? renderGraph(page.nodes, page.edges, `The workflow's nodes, coloured by their step status in execution ${e.id}`) : html`<p>The workflow was deleted; its graph is gone.</p>`}
<h2>Steps</h2>
${steps(page.report)}
${input || output ? html`<h2>Run input and output</h2>${value("input", input)}${value("output", output)}` : ""}
</div>`;
}
