/**
 * The Pulumi program (Pulumi.yaml `main`). Stacks: `local` (profile dev: everything in Docker),
 * `hybrid` (profile minikube: Postgres and LocalStack in Docker, the scheduler in minikube) and `cluster`
 * (profile cluster: any Kubernetes context, a registry, the team's own Postgres and SQS).
 * This file only reads the config, runs the preflight, looks at the machine and wires; the components
 * live beside it. Its result is the stack outputs: only those of the stack's profile.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, preflightSecretValues } from "./config.js";
import { preflightArgs, preflightEnvironment, runPreflight } from "./preflight.js";

export default async function keeperhub() {
  const { config, secrets } = loadStackConfig();
  const stack = pulumi.getStack();
  // First, and before the program's components (and the docker, kubernetes and random SDKs) are even
  // loaded: a failed check throws here, so the run ends with the doctor's message and nothing else.
  const args = preflightArgs(config, stack);
  await runPreflight(args, preflightEnvironment(args, config.awsRegion, preflightSecretValues()));
  const { createKeeperhub, observe } = await import("./program.js");
  return createKeeperhub(config, secrets, stack, await observe(config));
}
