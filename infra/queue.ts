import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { LOCALSTACK_CREDENTIALS } from "./containers.js";
import { khctl, REPO_ROOT } from "./khctl.js";

/** `khctl queue ensure --json`: creates both queues (idempotent) and prints their URLs. */
export const QUEUE_ENSURE_ARGS = ["queue", "ensure", "--json"] as const;

export interface QueueArgs {
  /** SQS endpoint reachable from the host, e.g. http://localhost:4566. */
  readonly endpoint: string;
  readonly region: string;
  /** Changes when LocalStack is recreated (its container id): a new LocalStack has no queues. */
  readonly localstackId: pulumi.Input<string>;
}

export interface QueueUrls {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/** Reads the URLs from `khctl queue ensure --json` output. Throws naming what is missing. */
export function parseEnsureOutput(stdout: string | undefined): QueueUrls {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(stdout ?? "") as Record<string, unknown>;
  } catch {
    throw new Error(`khctl queue ensure --json printed no JSON: ${(stdout ?? "").slice(0, 200)}`);
  }
  const queueUrl = parsed.queueUrl;
  const deadLetterQueueUrl = parsed.deadLetterQueueUrl ?? parsed.dlqUrl;
  if (typeof queueUrl !== "string" || typeof deadLetterQueueUrl !== "string") {
    throw new Error(
      `khctl queue ensure --json: expected queueUrl and deadLetterQueueUrl in ${(stdout ?? "").slice(0, 200)}`,
    );
  }
  return { queueUrl, deadLetterQueueUrl };
}

/** The environment `khctl queue ensure` runs with on the host. Pure, for tests. */
export function queueEnsureEnv(args: Pick<QueueArgs, "endpoint" | "region">): Record<string, string> {
  return {
    [ENV.awsEndpointUrl]: args.endpoint,
    [ENV.awsRegion]: args.region,
    [ENV.awsAccessKeyId]: LOCALSTACK_CREDENTIALS.accessKeyId,
    [ENV.awsSecretAccessKey]: LOCALSTACK_CREDENTIALS.secretAccessKey,
  };
}

/**
 * The workflow queue and its dead-letter queue, created by `khctl queue ensure` (idempotent) once
 * LocalStack is healthy. The URLs are outputs; with the path strategy they are the same from the host
 * and from pods.
 */
export class Queue extends pulumi.ComponentResource {
  readonly queueUrl: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly ensure: command.local.Command;

  constructor(name: string, args: QueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Queue", name, {}, opts);
    this.ensure = new command.local.Command(
      `${name}-ensure`,
      {
        create: khctl(QUEUE_ENSURE_ARGS),
        dir: REPO_ROOT,
        environment: queueEnsureEnv(args),
        triggers: [args.localstackId],
        // The stdout is parsed; only errors belong in the Pulumi log.
        logging: "stderr",
      },
      childOf(this, opts),
    );
    const urls = this.ensure.stdout.apply(parseEnsureOutput);
    this.queueUrl = urls.queueUrl;
    this.deadLetterQueueUrl = urls.deadLetterQueueUrl;
    this.registerOutputs({ queueUrl: this.queueUrl, deadLetterQueueUrl: this.deadLetterQueueUrl });
  }
}
