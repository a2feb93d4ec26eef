/**
 * The Pulumi program (Pulumi.yaml `main`). Stacks: `local` (profile dev: everything in Docker) and
 * `hybrid` (profile minikube: Postgres and LocalStack in Docker, the scheduler in minikube).
 * This file only reads the config and wires; the components live beside it.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config.js";
import { createKeeperhub } from "./program.js";

const { config, secrets } = loadStackConfig();
const outputs = createKeeperhub(config, secrets, pulumi.getStack());

export const profile = outputs.profile;
export const appUrl = outputs.appUrl;
export const databaseUrl = outputs.databaseUrl;
export const queueUrl = outputs.queueUrl;
export const dlqUrl = outputs.dlqUrl;
export const awsEndpointUrl = outputs.awsEndpointUrl;
export const namespace = outputs.namespace;
export const kubeContext = outputs.kubeContext;
export const images = outputs.images;
export const nextCommands = outputs.nextCommands;
