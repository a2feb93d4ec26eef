import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Profile } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { khctl, REPO_ROOT } from "./khctl.js";

export interface PreflightArgs {
  /** The profile whose checks run: `dev` (Docker) or `minikube` (Docker, minikube, the hosts line). */
  readonly profile: Profile;
  /** The stack name: its own containers may hold the ports (a second `up`). */
  readonly stack: string;
  /** Host ports the stack publishes; the checks fail when another stack's container holds one. */
  readonly ports: { readonly postgres: number; readonly localstack: number; readonly app: number };
  /** Whether the app container is part of the stack (only then is its port checked). */
  readonly appEnabled: boolean;
}

/** The `khctl doctor` arguments for a profile and its ports. Pure, for tests. */
export function doctorArgs(args: PreflightArgs): string[] {
  return [
    "doctor",
    "--profile",
    args.profile,
    "--stack",
    args.stack,
    "--postgres-port",
    String(args.ports.postgres),
    "--localstack-port",
    String(args.ports.localstack),
    ...(args.appEnabled ? ["--app-port", String(args.ports.app)] : []),
  ];
}

/**
 * Runs `khctl doctor` before anything changes; every other resource depends on it, so a failed check
 * stops the update with the doctor's one-line messages and their fixes. It re-runs when the profile,
 * stack or ports change; run `khctl doctor` yourself at any time.
 */
export class Preflight extends pulumi.ComponentResource {
  readonly check: command.local.Command;

  constructor(name: string, args: PreflightArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Preflight", name, {}, opts);
    const doctor = doctorArgs(args);
    this.check = new command.local.Command(
      `${name}-doctor`,
      { create: khctl(doctor), dir: REPO_ROOT, triggers: doctor },
      childOf(this, opts),
    );
    this.registerOutputs({ stdout: this.check.stdout });
  }
}
