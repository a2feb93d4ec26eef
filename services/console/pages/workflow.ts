import { type ExecutionListRow, readExecutionPage } from "../../db/execution-list.js";
import { type RunBucket, readRunBuckets } from "../../db/execution-stats.js";
import type { Queryable } from "../../db/pool.js";
import { getScheduleForWorkflow, type ScheduleRow } from "../../db/schedules.js";
import { databaseNow, getWorkflow, type WorkflowRow } from "../../db/workflows.js";
import { nextSlots } from "../../scheduling/cron.js";
import { chartLegend, RUN_WINDOWS, type RunWindowSpec, renderRunChart, windowEnding } from "../chart.js";
import { cronInWords, when } from "../format.js";
import { graphOf, renderGraph } from "../graph.js";
import { type Html, html, query } from "../html.js";
import { actionButton } from "../layout.js";
import { executionRow } from "./executions.js";

/**
 * One workflow: its definition as a graph, its schedule in words and its next slots, its latest runs (the
 * executions list's query and rows, live), how its runs went over a day and a week, and its actions.
 */

/** Slots listed ahead, and runs listed. */
export const NEXT_SLOTS = 5;
export const RECENT_RUNS = 10;

export interface WorkflowPage {
  readonly workflow: WorkflowRow;
  readonly schedule: ScheduleRow | null;
  /** The next slots; empty when disabled (the dispatcher fires none), or when the schedule never fires again. */
  readonly slots: Date[];
  /** Why there are no slots, when there are none. */
  readonly noSlots?: string;
  readonly recent: ExecutionListRow[];
  readonly charts: { spec: RunWindowSpec; buckets: RunBucket[] }[];
  /** The database's time when the page was read: the live list asks for changes after it. */
  readonly readAt: Date;
}

/** A disabled workflow, or its disabled schedule, fires nothing: no slots ahead, and why. */
function upcoming(
  workflow: WorkflowRow,
  schedule: ScheduleRow | null,
  now: Date,
): Pick<WorkflowPage, "slots" | "noSlots"> {
  if (!schedule) return { slots: [], noSlots: "manual: no schedule" };
  if (!workflow.enabled) return { slots: [], noSlots: "the workflow is disabled" };
  if (!schedule.enabled) return { slots: [], noSlots: "the schedule is disabled" };
  const slots = nextSlots(schedule.cron_expression, schedule.timezone, now, NEXT_SLOTS);
  return slots.length ? { slots } : { slots, noSlots: "the schedule never fires again" };
}

/** The workflow's page, or null when it does not exist. */
export async function loadWorkflowPage(db: Queryable, id: string): Promise<WorkflowPage | null> {
  const workflow = await getWorkflow(db, id);
  if (!workflow) return null;
  const readAt = await databaseNow(db);
  const [schedule, recent, ...charts] = await Promise.all([
    getScheduleForWorkflow(db, id),
    readExecutionPage(db, { workflowId: id }, { limit: RECENT_RUNS }),
    ...RUN_WINDOWS.map(async (spec) => ({
      spec,
      buckets: await readRunBuckets(db, id, windowEnding(spec, readAt)),
    })),
  ]);
  return {
    workflow,
    schedule,
    ...upcoming(workflow, schedule, readAt),
    recent: recent.rows,
    charts,
    readAt,
  };
}

function scheduleFacts(page: WorkflowPage): Html {
  const { schedule, slots } = page;
  if (!schedule) {
    return html`<dt>Trigger</dt><dd>Manual: runs only when triggered (here, or <code>khctl trigger</code>)</dd>`;
  }
  const next = slots.length
    ? html`<ol class="slots">${slots.map((slot) => html`<li>${when(slot)}</li>`)}</ol>`
    : html`<span class="none">none: ${page.noSlots}</span>`;
  return html`<dt>Schedule</dt><dd>${cronInWords(schedule.cron_expression, schedule.timezone)} <code>${schedule.cron_expression}</code></dd>
<dt>Next ${NEXT_SLOTS} slots</dt><dd data-slots>${next}</dd>`;
}

function facts(page: WorkflowPage, token: string): Html {
  const { workflow: w } = page;
  return html`<dl class="facts">
<dt>Id</dt><dd><code>${w.id}</code></dd>
${w.description ? html`<dt>Description</dt><dd>${w.description}</dd>` : ""}
<dt>Enabled</dt><dd>${w.enabled ? "yes" : html`<strong>no</strong>: no scheduled runs (Trigger now still runs it)`}</dd>
${scheduleFacts(page)}
<dt>Changed</dt><dd>${when(w.updated_at)} (created ${when(w.created_at)})</dd>
</dl>
${actions(w, token)}`;
}

/** Trigger now, and Enable or Disable (which come back to this page). */
function actions(workflow: WorkflowRow, token: string): Html {
  const back = "?from=workflow";
  const toggle = workflow.enabled
    ? actionButton(`/workflows/${workflow.id}/disable${back}`, "Disable", token, workflow.name)
    : actionButton(`/workflows/${workflow.id}/enable${back}`, "Enable", token, workflow.name);
  return html`<div class="actions">${actionButton(`/workflows/${workflow.id}/trigger`, "Trigger now", token, workflow.name)}${toggle}</div>`;
}

function recentRuns(page: WorkflowPage): Html {
  const id = page.workflow.id;
  const feed = `/executions/events${query({ workflow: id, since: page.readAt.toISOString() })}`;
  const rows = page.recent.length
    ? page.recent.map(executionRow)
    : html`<tr class="empty"><td colspan="8">No runs yet.</td></tr>`;
  return html`<p class="live-note" aria-live="polite" data-live-status></p>
<div class="scroll" role="region" tabindex="0" aria-label="Latest runs"><table class="executions stack" data-feed="${feed}" data-page-size="${RECENT_RUNS}">
<caption>The latest ${RECENT_RUNS} runs, newest first</caption>
<thead><tr><th scope="col">Execution</th><th scope="col">Workflow</th><th scope="col">Status</th><th scope="col">Trigger</th><th scope="col">Created</th><th scope="col">Duration</th><th scope="col">Steps</th><th scope="col">Error</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>
<p><a href="/executions${query({ workflow: id })}">All runs of this workflow</a></p>`;
}

export function renderWorkflowPage(page: WorkflowPage, token: string): Html {
  const { nodes, edges } = graphOf(page.workflow);
  const charts = page.charts.map(({ spec, buckets }) => renderRunChart(spec, buckets));
  return html`${facts(page, token)}
<h2>Definition</h2>
<div class="definition">${nodes.length ? renderGraph(nodes, edges, `The nodes of ${page.workflow.name}, and what follows what`) : html`<p>No nodes.</p>`}</div>
<h2>Runs over time</h2>
<p class="muted">By the time each run was created, in UTC; hover a bar for its numbers.</p>
<div class="charts">${charts}</div>
${chartLegend()}
<h2>Latest runs</h2>
${recentRuns(page)}`;
}
