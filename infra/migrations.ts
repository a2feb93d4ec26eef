import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { hashFiles, listFiles } from "./hash.js";
import { khctl, REPO_ROOT } from "./khctl.js";

export const MIGRATIONS_DIR = "services/db/migrations";
export const MIGRATE_ARGS = ["migrate"] as const;

/** A hash of the migration files: `khctl migrate` re-runs when it changes. */
export function migrationsHash(root: string = REPO_ROOT): string {
  return hashFiles(root, listFiles(root, MIGRATIONS_DIR));
}

export interface MigrationsArgs {
  /** Database URL reachable from the host (secret). */
  readonly databaseUrl: pulumi.Input<string>;
  /** Changes when Postgres is recreated (its container id), so a new database gets the schema. */
  readonly postgresId: pulumi.Input<string>;
}

/**
 * Applies the schema with `khctl migrate` once Postgres is healthy, and again whenever a migration file
 * changes. `khctl migrate` is idempotent and locks, so a re-run is always safe.
 */
export class Migrations extends pulumi.ComponentResource {
  readonly migrate: command.local.Command;

  constructor(name: string, args: MigrationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Migrations", name, {}, opts);
    this.migrate = new command.local.Command(
      `${name}-migrate`,
      {
        create: khctl(MIGRATE_ARGS),
        dir: REPO_ROOT,
        environment: { [ENV.databaseUrl]: pulumi.secret(args.databaseUrl) },
        triggers: [migrationsHash(), args.postgresId],
      },
      childOf(this, opts),
    );
    this.registerOutputs({ stdout: this.migrate.stdout });
  }
}
