import type { Queryable } from "../db/pool.js";
import { findWorkflows, type WorkflowRow } from "../db/workflows.js";
import { CliError } from "./errors.js";

/**
 * The workflow a command names, by id or by name: `khctl trigger "Manual: say hello"` works as well as its
 * id. Names need not be unique: an ambiguous one is refused in one line that lists the ids to choose from.
 */
export async function resolveWorkflow(db: Queryable, ref: string): Promise<WorkflowRow> {
  const found = await findWorkflows(db, ref);
  const byId = found.find((row) => row.id === ref);
  if (byId) return byId;
  if (found.length === 1) return found[0] as WorkflowRow;
  if (found.length === 0) {
    throw new CliError(`no workflow with the id or name "${ref}" (khctl workflow list shows them)`);
  }
  throw new CliError(
    `${found.length} workflows are named "${ref}" (${found.map((row) => row.id).join(", ")}): give the id`,
  );
}
