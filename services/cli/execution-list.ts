import { EXECUTION_STATUSES, type ExecutionStatus } from "../contracts/names.js";
import { sleep } from "../core/backoff.js";
import { formatDuration } from "../core/duration.js";
import {
  ExecutionChangeReader,
  type ExecutionFilter,
  type ExecutionListRow,
  parseCursor,
  readExecutionPage,
} from "../db/execution-list.js";
import type { ExecutionTriggerType } from "../db/executions.js";
import type { Queryable } from "../db/pool.js";
import { databaseNow } from "../db/workflows.js";
import { shownText } from "../workflow/shown.js";
import { CliError } from "./errors.js";
import { printJson, renderTable } from "./shared.js";
import { resolveWorkflow } from "./workflow-ref.js";

/**
 * `khctl execution list`: the console's list of executions (its query and keyset pages, db/execution-list),
 * filtered from flags, as a table or JSON, and `--watch` to follow new and changed ones.
 */

export const TRIGGER_FILTERS = ["schedule", "manual", "webhook"] as const;
export const STATUS_FILTERS = EXECUTION_STATUSES;

export interface ListFlags {
  workflow?: string;
  status?: ExecutionStatus;
  trigger?: ExecutionTriggerType;
  since?: string;
  until?: string;
  limit: number;
  before?: string;
  json?: boolean;
  watch?: boolean;
}

const UNITS_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `15m`, `1h`, `7d` before now, or a time (ISO 8601); a usage error (exit 2) naming the flag otherwise. */
export function parseWhen(text: string, flag: string, now: Date): Date {
  const relative = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * (UNITS_MS[relative[2] as string] ?? 0));
  const at = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isFinite(at)) return new Date(at);
  throw new CliError(
    `${flag} "${text}" is neither a duration before now (30s, 15m, 1h, 7d) nor a time (2026-12-07T10:00:00Z)`,
    2,
  );
}

/** The filter the flags ask for; the workflow by id or name. */
async function filterOf(db: Queryable, flags: ListFlags): Promise<ExecutionFilter> {
  const now = await databaseNow(db);
  const workflowId = flags.workflow ? (await resolveWorkflow(db, flags.workflow)).id : undefined;
  return {
    ...(workflowId ? { workflowId } : {}),
    ...(flags.status ? { status: flags.status } : {}),
    ...(flags.trigger ? { triggerType: flags.trigger } : {}),
    ...(flags.since ? { since: parseWhen(flags.since, "--since", now) } : {}),
    ...(flags.until ? { until: parseWhen(flags.until, "--until", now) } : {}),
  };
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

/** One execution as `--json` prints it. */
export function executionItem(row: ExecutionListRow) {
  return {
    id: row.id,
    workflowId: row.workflow_id,
    workflowName: row.workflow_name,
    status: row.status,
    triggerType: row.trigger_type,
    scheduledFor: iso(row.scheduled_for),
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    completedAt: iso(row.completed_at),
    durationMs: row.duration_ms,
    completedSteps: row.completed_steps,
    totalSteps: row.total_steps,
    error: shownText(row.error),
  };
}

const HEAD = ["execution", "workflow", "status", "trigger", "created", "duration", "steps", "error"];

function cells(row: ExecutionListRow): string[] {
  return [
    row.id,
    row.workflow_name ?? `${row.workflow_id} (deleted)`,
    row.status,
    row.trigger_type,
    row.created_at.toISOString(),
    formatDuration(row.duration_ms),
    `${row.completed_steps}/${row.total_steps}`,
    (shownText(row.error) ?? "").split("\n")[0]?.slice(0, 50) ?? "",
  ];
}

/** Prints one page; returns its rows (a watch does not print them again). */
async function printPage(
  db: Queryable,
  flags: ListFlags,
  filter: ExecutionFilter,
): Promise<ExecutionListRow[]> {
  const before = flags.before === undefined ? undefined : parseCursor(flags.before);
  if (flags.before !== undefined && !before) {
    throw new CliError(`--before "${flags.before}" is not a cursor (the "next" of an earlier page)`, 2);
  }
  const page = await readExecutionPage(db, filter, { limit: flags.limit, ...(before ? { before } : {}) });
  if (flags.json && flags.watch) {
    for (const row of page.rows.toReversed()) process.stdout.write(`${JSON.stringify(executionItem(row))}\n`);
  } else if (flags.json) {
    printJson({ executions: page.rows.map(executionItem), next: page.next ?? null });
  } else {
    console.log(page.rows.length === 0 ? "No executions match." : renderTable(HEAD, page.rows.map(cells)));
    if (page.next && !flags.watch) console.log(`Older ones: the same command with --before ${page.next}`);
  }
  return page.rows;
}

/** Follows new and changed executions until `signal`: a line (or a JSON line) each. */
async function follow(
  db: Queryable,
  flags: ListFlags,
  page: { filter: ExecutionFilter; since: Date; rows: readonly ExecutionListRow[] },
  signal: AbortSignal,
): Promise<void> {
  // A watch follows what is new: the page's upper bound (--until) does not hold it back.
  const { until: _until, ...live } = page.filter;
  const changes = new ExecutionChangeReader(db, live, page.since);
  changes.seen(page.rows);
  if (!flags.json) process.stderr.write("khctl: following new and changed executions (Ctrl-C stops)\n");
  while (!signal.aborted) {
    for (const row of await changes.read()) {
      if (flags.json) process.stdout.write(`${JSON.stringify(executionItem(row))}\n`);
      else
        console.log(
          cells(row)
            .filter((cell) => cell !== "")
            .join("  "),
        );
    }
    await sleep(1_000, signal);
  }
}

export async function listExecutions(db: Queryable, flags: ListFlags, signal: AbortSignal): Promise<void> {
  const filter = await filterOf(db, flags);
  const since = await databaseNow(db);
  const rows = await printPage(db, flags, filter);
  if (flags.watch) await follow(db, flags, { filter, since, rows }, signal);
}
