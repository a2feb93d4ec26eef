import type * as pulumi from "@pulumi/pulumi";
import { FLAG_SETTINGS } from "../services/contracts/settings.js";
import type { SchedulerSettings } from "./cluster/index.js";
import type { StackConfig } from "./config.js";

/**
 * What every profile's declaration shares (program.ts for local and hybrid, cluster-stack.ts for cluster):
 * the outputs' shape, the console's address, the example workflow and the scheduler's settings.
 */

/**
 * The stack outputs (`pulumi stack output`): only what the stack's profile has, so no output is ever
 * undefined (Pulumi warns about those on every preview).
 */
export interface KeeperhubOutputs {
  readonly profile: string;
  /** From the host (secret): `pulumi stack output databaseUrl --show-secrets`. */
  readonly databaseUrl: pulumi.Output<string>;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** SQS endpoint from the host. */
  readonly awsEndpointUrl: string;
  /** References of the images the stack built: content tags, or `repo@sha256:…` when pushed (cluster). */
  readonly images: { readonly scheduler: pulumi.Input<string>; readonly runner?: pulumi.Input<string> };
  readonly nextCommands: string[];
  /** http://localhost:<appPort>, with `keeperhub:appCheckoutPath` only. */
  readonly appUrl?: string;
  /**
   * Where `khctl console` serves the web console once it is started on the host (nextCommands): the
   * console reads Docker, minikube and the cluster as `khctl status` does, so it runs beside the stack,
   * not in it (a container would need the Docker socket, which is root on the host).
   */
  readonly consoleUrl: string;
  /** minikube and cluster profiles only. */
  readonly namespace?: string;
  /** minikube and cluster profiles only. */
  readonly kubeContext?: string;
}

/** `khctl console`'s address on the host, at its default port. */
export const CONSOLE_URL = `http://127.0.0.1:${FLAG_SETTINGS.consolePort.default}`;

/**
 * The example workflow the stacks suggest: it calls the public internet, which the stacks' containers reach
 * (the others call khctl dev's demo API, which only `khctl dev` runs).
 */
export const STACK_EXAMPLE = "examples/public-internet-check.json";

/** What the scheduler's pods read from the ConfigMap. Pure. */
export function schedulerSettings(
  config: StackConfig,
  awsEndpointUrl: string | undefined,
  queueUrl: string,
): SchedulerSettings {
  return {
    awsEndpointUrl,
    awsRegion: config.awsRegion,
    queueUrl,
    namespace: config.namespace,
    jobTtlSeconds: config.jobs.ttlSeconds,
    jobActiveDeadlineSeconds: config.jobs.activeDeadlineSeconds,
    maxConcurrentJobs: config.jobs.maxConcurrent,
    logLevel: config.logLevel,
  };
}
