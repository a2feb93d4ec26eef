import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { ENV } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { parseJson } from "../../core/json.js";
import { createWorkflow, listWorkflows } from "../../db/workflows.js";
import { nextSlotAfter, type Schedule, validateSchedule } from "../../scheduling/cron.js";
import {
  isTrigger,
  triggerKindOf,
  validateWorkflow,
  type WorkflowDefinition,
} from "../../workflow/definition.js";
import { COMMAND_LIST } from "../command-list.js";
import { CliError } from "../errors.js";
import { printJson, renderTable, withDatabase } from "../shared.js";

interface CreateFlags {
  file: string;
  schedule?: string;
  timezone?: string;
  disabled?: boolean;
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
  try {
    return validateWorkflow(json);
  } catch (error) {
    throw new CliError(`${file}: ${errorMessage(error)}`);
  }
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
    .option("--json", "print {id, name, nodes, schedule} as JSON")
    .addHelpText(
      "after",
      `
Environment:
  ${ENV.databaseUrl}   (required) where the workflow is stored

The schedule's first run is its next slot after now. A bad file, JSON, definition, cron or time zone
is reported as one line naming the problem, and nothing is stored (exit 1).`,
    )
    .action(async (flags: CreateFlags) => {
      const definition = await readWorkflowFile(flags.file);
      const schedule = scheduleFor(definition, flags);
      const enabled = !flags.disabled;
      const created = await withDatabase((pool) =>
        createWorkflow(pool, {
          definition,
          enabled,
          schedule: schedule && {
            ...schedule,
            enabled,
            nextRunAt: nextSlotAfter(schedule.cron, schedule.timezone, new Date()),
          },
        }),
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
    });
}

function registerList(workflow: Command): void {
  workflow
    .command("list")
    .description("list stored workflows, newest first, with their schedules")
    .option("--json", "print the list as JSON")
    .addHelpText("after", `\nEnvironment:\n  ${ENV.databaseUrl}   (required) where the workflows are stored`)
    .action(async (flags: { json?: boolean }) => {
      const rows = await withDatabase((pool) => listWorkflows(pool));
      const list = rows.map((row) => ({
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
              nextRunAt: row.next_run_at?.toISOString() ?? null,
              lastRunAt: row.last_run_at?.toISOString() ?? null,
              lastStatus: row.last_status,
            }
          : null,
      }));
      if (flags.json) return printJson(list);
      if (list.length === 0) {
        console.log("No workflows yet. Create one: khctl workflow create --file examples/http-check.json");
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
            item.schedule?.nextRunAt ?? "",
            item.schedule?.lastRunAt ? `${item.schedule.lastRunAt} ${item.schedule.lastStatus ?? ""}` : "",
          ]),
        ),
      );
    });
}

export function register(program: Command): void {
  const workflow = program.command("workflow").description(COMMAND_LIST.workflow.summary);
  registerCreate(workflow);
  registerList(workflow);
}
