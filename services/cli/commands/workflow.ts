import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { parseJson } from "../../core/json.js";
import {
  countExecutions,
  countUnfinishedExecutions,
  createWorkflow,
  DuplicateNameError,
  deleteWorkflow,
  listWorkflowOverview,
  setWorkflowEnabled,
  updateWorkflow,
  type WorkflowOverviewRow,
} from "../../db/workflows.js";
import { nextSlotAfter, type Schedule, validateSchedule } from "../../scheduling/cron.js";
import {
  describeNode,
  isTrigger,
  triggerKindOf,
  validateWorkflow,
  type WorkflowDefinition,
} from "../../workflow/definition.js";
import { MASK } from "../../workflow/secrets.js";
import { nodeHoldingMask } from "../../workflow/shown.js";
import { COMMAND_LIST } from "../command-list.js";
import { confirm } from "../confirm.js";
import { envHelp, foundLine } from "../env-help.js";
import { CliError } from "../errors.js";
import { printJson, renderTable, withDatabase } from "../shared.js";
import { resolveWorkflow } from "../workflow-ref.js";
import {
  definitionOf,
  describeSchedule,
  loadWorkflowView,
  renderWorkflowView,
  scheduleView,
} from "../workflow-view.js";

interface CreateFlags {
  file: string;
  schedule?: string;
  timezone?: string;
  disabled?: boolean;
  allowDuplicate?: boolean;
  json?: boolean;
}

/** Reads and validates a workflow file; CliError with one line naming the file and the problem. */
export async function readWorkflowFile(file: string): Promise<WorkflowDefinition> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${errorMessage(error)}`);
  }
  let json: unknown;
  try {
    json = parseJson(text);
  } catch (error) {
    throw new CliError(`${file} is not valid JSON: ${errorMessage(error)}`);
  }
  let definition: WorkflowDefinition;
  try {
    definition = validateWorkflow(json);
  } catch (error) {
    throw new CliError(`${file}: ${errorMessage(error)}`);
  }
  const masked = nodeHoldingMask(definition.nodes);
  if (masked) {
    throw new CliError(
      `${file}: ${describeNode(masked)} holds "${MASK}" where a secret was masked; put the real value back (khctl workflow show --definition --show-secrets prints it)`,
    );
  }
  return definition;
}

/**
 * The schedule to store: --schedule/--timezone, else a Schedule trigger's scheduleCron/scheduleTimezone,
 * else none. Throws CliError for a bad cron or time zone.
 */
export function scheduleFor(
  definition: WorkflowDefinition,
  flags: Pick<CreateFlags, "schedule" | "timezone">,
): Schedule | undefined {
  const trigger = definition.nodes.find(isTrigger);
  const fromTrigger = trigger && triggerKindOf(trigger) === "Schedule" ? trigger.data.config : undefined;
  const cron = flags.schedule ?? (fromTrigger?.scheduleCron as string | undefined);
  const timezone = flags.timezone ?? ((fromTrigger?.scheduleTimezone as string | undefined) || "UTC");
  if (cron === undefined) {
    if (flags.timezone !== undefined)
      throw new CliError("--timezone needs --schedule (or a Schedule trigger)", 2);
    return undefined;
  }
  try {
    return validateSchedule(cron, timezone);
  } catch (error) {
    throw new CliError(errorMessage(error));
  }
}

/**
 * Names are unique among workflows (every by-name command needs that): a save that would repeat one is
 * refused with the command that changes the existing workflow instead. `--allow-duplicate` keeps the
 * case of two on purpose (they are then named by id).
 */
async function refusingDuplicates<T>(save: () => Promise<T>): Promise<T> {
  try {
    return await save();
  } catch (error) {
    if (!(error instanceof DuplicateNameError)) throw error;
    throw new CliError(
      `${error.message}: to change it, khctl workflow update ${error.ids[0]} --file <path>; to keep both, --allow-duplicate`,
    );
  }
}

const ALLOW_DUPLICATE_HELP =
  "store it even when another workflow has its name (by-name commands then need the id)";

function registerCreate(workflow: Command): void {
  workflow
    .command("create")
    .description("validate a workflow file (KeeperHub's {name, description?, nodes, edges}) and store it")
    .requiredOption("--file <path>", "the workflow JSON file (see examples/)")
    .option(
      "--schedule <cron>",
      "run it on this cron schedule: 5 fields, or 6 with seconds first (default: a Schedule trigger's scheduleCron, else no schedule)",
    )
    .option(
      "--timezone <iana>",
      "IANA time zone of the schedule (default: the trigger's scheduleTimezone, else UTC)",
    )
    .option("--disabled", "store the workflow and its schedule disabled")
    .option("--allow-duplicate", ALLOW_DUPLICATE_HELP)
    .option("--json", "print {id, name, nodes, schedule} as JSON")
    .addHelpText(
      "after",
      `${DATABASE_HELP}

The schedule's first run is its next slot after now. A bad file, JSON, definition, cron or time zone,
or a name another workflow has, is reported as one line naming the problem, and nothing is stored (exit 1).`,
    )
    .action(createFromFile);
}

/** `khctl workflow create`: validates the file, stores it (and its schedule), prints what was stored. */
async function createFromFile(flags: CreateFlags): Promise<void> {
  const definition = await readWorkflowFile(flags.file);
  const schedule = scheduleFor(definition, flags);
  const enabled = !flags.disabled;
  const created = await withDatabase((pool) =>
    refusingDuplicates(() =>
      createWorkflow(pool, {
        definition,
        enabled,
        uniqueName: !flags.allowDuplicate,
        schedule: schedule && {
          ...schedule,
          enabled,
          nextRunAt: nextSlotAfter(schedule.cron, schedule.timezone, new Date()),
        },
      }),
    ),
  );
  const summary = {
    id: created.workflow.id,
    name: created.workflow.name,
    nodes: definition.nodes.length,
    enabled,
    schedule: created.schedule && {
      id: created.schedule.id,
      cron: created.schedule.cron_expression,
      timezone: created.schedule.timezone,
      nextRunAt: created.schedule.next_run_at?.toISOString() ?? null,
    },
  };
  if (flags.json) return printJson(summary);
  console.log(
    `Created workflow ${summary.id} "${summary.name}" (${summary.nodes} nodes${enabled ? "" : ", disabled"})`,
  );
  if (summary.schedule) {
    console.log(
      `Schedule ${summary.schedule.cron} (${summary.schedule.timezone}), next run ${summary.schedule.nextRunAt ?? "never"}`,
    );
  }
  console.log(`Run it now: khctl run --workflow ${summary.id}`);
}

/** A listed workflow as `workflow list --json` prints it. */
function listItem(row: WorkflowOverviewRow) {
  const runs = row.enabled && row.schedule_enabled;
  return {
    id: row.id,
    name: row.name,
    nodes: Array.isArray(row.nodes) ? row.nodes.length : 0,
    enabled: row.enabled,
    createdAt: row.created_at.toISOString(),
    schedule: row.schedule_id
      ? {
          id: row.schedule_id,
          cron: row.cron_expression,
          timezone: row.timezone,
          enabled: row.schedule_enabled,
          // A disabled workflow or schedule has no next run, whatever next_run_at still holds.
          nextRunAt: runs ? (row.next_run_at?.toISOString() ?? null) : null,
        }
      : null,
    lastRun: row.last_execution_id
      ? {
          id: row.last_execution_id,
          status: row.last_execution_status,
          at: row.last_execution_at?.toISOString() ?? null,
          durationMs: row.last_execution_duration_ms,
        }
      : null,
    executions: row.execution_count,
  };
}

function nextRunCell(item: ReturnType<typeof listItem>): string {
  if (!item.schedule) return "manual";
  if (!item.enabled || !item.schedule.enabled) return "disabled";
  return item.schedule.nextRunAt ?? "never";
}

function registerList(workflow: Command): void {
  workflow
    .command("list")
    .description("list stored workflows, newest first, with their schedules and last runs")
    .option("--json", "print the list as JSON")
    .addHelpText(
      "after",
      `${DATABASE_HELP}

The last run is the workflow's newest execution, whatever triggered it (the console shows the same).
A disabled workflow has no next run.`,
    )
    .action(async (flags: { json?: boolean }) => {
      const list = (await withDatabase((pool) => listWorkflowOverview(pool))).map(listItem);
      if (flags.json) return printJson(list);
      if (list.length === 0) {
        console.log(
          "No workflows yet. Create one: khctl workflow create --file examples/demo-api-check.json",
        );
        return;
      }
      console.log(
        renderTable(
          ["id", "name", "nodes", "enabled", "schedule", "next run", "last run"],
          list.map((item) => [
            item.id,
            item.name,
            item.nodes,
            item.enabled ? "yes" : "no",
            item.schedule
              ? `${item.schedule.cron} (${item.schedule.timezone})${item.schedule.enabled ? "" : " off"}`
              : "",
            nextRunCell(item),
            item.lastRun ? `${item.lastRun.at} ${item.lastRun.status}` : "never",
          ]),
        ),
      );
    });
}

const DATABASE_HELP = envHelp([foundLine(ENV.databaseUrl, "where the workflows are stored")]);
const REF = "<workflow>";
const REF_HELP = "the workflow's id, or its name when no other workflow has that name";

function registerShow(workflow: Command): void {
  workflow
    .command("show")
    .description("show a workflow: its schedule, nodes and latest runs")
    .argument(REF, REF_HELP)
    .option("--json", "print {workflow, schedule, recentExecutions} as JSON")
    .option(
      "--definition",
      "print only the workflow file ({name, description, nodes, edges}) to edit and update",
    )
    .option(
      "--show-secrets",
      `show the definition as stored: secret headers, query values and body fields are "${MASK}" otherwise`,
    )
    .addHelpText(
      "after",
      `${DATABASE_HELP}\n\nSecrets are masked in every form (table, --json, --definition), as in the console.\nTo change a workflow: khctl workflow show <workflow> --definition --show-secrets > wf.json, edit it,\nthen khctl workflow update <workflow> --file wf.json (a file still holding "${MASK}" is refused).`,
    )
    .action(async (ref: string, flags: { json?: boolean; definition?: boolean; showSecrets?: boolean }) => {
      const view = await withDatabase(async (pool) =>
        loadWorkflowView(pool, await resolveWorkflow(pool, ref), { showSecrets: flags.showSecrets }),
      );
      if (flags.definition) return printJson(definitionOf(view));
      if (flags.json) return printJson(view);
      console.log(renderWorkflowView(view));
    });
}

function registerUpdate(workflow: Command): void {
  workflow
    .command("update")
    .description("replace a workflow's definition with a file; its schedule follows the file's trigger")
    .argument(REF, REF_HELP)
    .requiredOption("--file <path>", "the workflow JSON file, checked as `workflow create` checks it")
    .option("--schedule <cron>", "the schedule (default: a Schedule trigger's scheduleCron, else none)")
    .option("--timezone <iana>", "its IANA time zone (default: the trigger's scheduleTimezone, else UTC)")
    .option("--allow-duplicate", ALLOW_DUPLICATE_HELP)
    .option("--json", "print {id, name, nodes, schedule, scheduleChange} as JSON")
    .addHelpText(
      "after",
      `${DATABASE_HELP}

The id, the enabled state and the run history stay. The schedule follows the new definition: a new or
changed cron or time zone starts at its next slot after now; an unchanged one keeps its next run; a
workflow whose trigger is no longer a Schedule loses its schedule (its past runs stay). A bad file is
refused in one line and nothing changes (exit 1).`,
    )
    .action(async (ref: string, flags: CreateFlags) => {
      const definition = await readWorkflowFile(flags.file);
      const schedule = scheduleFor(definition, flags);
      const result = await withDatabase(async (pool) => {
        const target = await resolveWorkflow(pool, ref);
        const wanted = schedule && {
          ...schedule,
          nextSlot: (now: Date) => nextSlotAfter(schedule.cron, schedule.timezone, now),
        };
        return refusingDuplicates(() =>
          updateWorkflow(pool, target.id, definition, wanted, { uniqueName: !flags.allowDuplicate }),
        );
      });
      if (!result) throw new CliError(`workflow ${ref} was deleted meanwhile`);
      const summary = {
        id: result.workflow.id,
        name: result.workflow.name,
        nodes: definition.nodes.length,
        schedule: scheduleView(result.schedule),
        scheduleChange: result.change,
      };
      if (flags.json) return printJson(summary);
      console.log(`Updated workflow ${summary.id} "${summary.name}" (${summary.nodes} nodes)`);
      const scheduleLine = {
        created: "Schedule added:",
        changed: "Schedule changed:",
        unchanged: "Schedule unchanged:",
        removed: "Schedule removed: the trigger is no longer a Schedule (past runs stay)",
        none: "",
      }[result.change];
      if (summary.schedule) console.log(`${scheduleLine} ${describeSchedule(summary.schedule)}`);
      else if (scheduleLine) console.log(scheduleLine);
    });
}

function registerEnable(workflow: Command, enabled: boolean): void {
  const verb = enabled ? "enable" : "disable";
  workflow
    .command(verb)
    .description(
      enabled
        ? "turn a workflow's schedule back on; it runs from its next slot after now"
        : "stop a workflow's scheduled runs (manual triggers still run it; history stays)",
    )
    .argument(REF, REF_HELP)
    .option("--json", "print {id, name, enabled, schedule} as JSON")
    .addHelpText("after", DATABASE_HELP)
    .action(async (ref: string, flags: { json?: boolean }) => {
      const result = await withDatabase(async (pool) => {
        const target = await resolveWorkflow(pool, ref);
        return setWorkflowEnabled(pool, target.id, enabled, nextSlotAfter);
      });
      if (!result) throw new CliError(`workflow ${ref} was deleted meanwhile`);
      const summary = {
        id: result.workflow.id,
        name: result.workflow.name,
        enabled: result.workflow.enabled,
        schedule: scheduleView(result.schedule),
      };
      if (flags.json) return printJson(summary);
      const what = summary.schedule ? `; schedule ${describeSchedule(summary.schedule)}` : "";
      console.log(`${enabled ? "Enabled" : "Disabled"} workflow ${summary.id} "${summary.name}"${what}`);
    });
}

function registerDelete(workflow: Command): void {
  workflow
    .command("delete")
    .description("delete a workflow with its schedule and its run history (asks first)")
    .argument(REF, REF_HELP)
    .option("-y, --yes", "delete without asking (needed when there is no terminal to ask on)")
    .option("--force", "delete it even while one of its runs is pending or running")
    .option("--json", "print {id, name, executions} (the executions deleted with it) as JSON")
    .addHelpText(
      "after",
      `${DATABASE_HELP}

Deleting removes the workflow, its schedule, its executions and their step logs: nothing of it is left.
On a terminal it asks first; a script gives --yes (without it, and no terminal, it refuses: exit 2).
To stop it and keep its history, disable it instead (khctl workflow disable). A workflow with a run
pending or running is refused unless --force (that run then cannot record its end).`,
    )
    .action(async (ref: string, flags: { yes?: boolean; force?: boolean; json?: boolean }) => {
      const summary = await withDatabase(async (pool) => {
        const target = await resolveWorkflow(pool, ref);
        const unfinished = await countUnfinishedExecutions(pool, target.id);
        if (unfinished > 0 && !flags.force) {
          throw new CliError(
            `workflow ${target.id} "${target.name}" has ${unfinished} run(s) pending or running: wait for them, disable it, or use --force`,
          );
        }
        const history = await countExecutions(pool, target.id);
        const question = `Delete workflow ${target.id} "${target.name}" with its schedule and ${history} execution(s)?`;
        if (!(await confirm(question, flags))) throw new CliError("nothing deleted");
        const deleted = await deleteWorkflow(pool, target.id);
        if (!deleted) throw new CliError(`workflow ${ref} was deleted meanwhile`);
        return { id: target.id, name: target.name, executions: deleted.executions };
      });
      if (flags.json) return printJson(summary);
      console.log(
        `Deleted workflow ${summary.id} "${summary.name}" with its schedule and ${summary.executions} execution(s)`,
      );
    });
}

export function register(program: Command): void {
  const workflow = program.command("workflow").description(COMMAND_LIST.workflow.summary);
  registerCreate(workflow);
  registerList(workflow);
  registerShow(workflow);
  registerUpdate(workflow);
  registerEnable(workflow, true);
  registerEnable(workflow, false);
  registerDelete(workflow);
}
