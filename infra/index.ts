/**
 * The Pulumi program (Pulumi.yaml `main`). Stacks: `local` (profile dev: everything in Docker) and
 * `hybrid` (profile minikube: Postgres and LocalStack in Docker, the scheduler in minikube).
 * This file only reads the config, looks at the machine (the preflight first) and wires; the components
 * live beside it. Its result is the stack outputs: only those of the stack's profile.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config.js";
import { createKeeperhub, observe } from "./program.js";

export default async function keeperhub() {
  const { config, secrets } = loadStackConfig();
  const stack = pulumi.getStack();
  const observed = await observe(config, stack);
  return createKeeperhub(config, secrets, stack, observed);
}
