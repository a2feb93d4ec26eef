import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DLQ_NAME, ENV, QUEUE_NAME } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { LOCALSTACK_ACCOUNT_ID, LOCALSTACK_CREDENTIALS } from "./containers.js";
import { commandRestore, type Seen } from "./drift.js";
import { khctl, khctlReport, REPO_ROOT, runOnHost } from "./khctl.js";

/** `khctl queue ensure`: creates both queues (idempotent); the URLs are known without it (queueUrls). */
export const QUEUE_ENSURE_ARGS = ["queue", "ensure"] as const;
/** `khctl queue check`: read-only, run on every preview and update to see whether the queues exist. */
export const QUEUE_CHECK_ARGS = ["queue", "check"] as const;

export interface QueueUrls {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/**
 * The queue URLs LocalStack gives (SQS_ENDPOINT_STRATEGY=path): `http://<LOCALSTACK_HOST>/queue/<region>/
 * <account>/<name>`, checked against LocalStack 4.4. Pure, so they are known in a preview and with
 * `--target`, before the queues exist, and never depend on parsing a command's output.
 */
export function queueUrls(urlHost: string, region: string): QueueUrls {
  const url = (name: string) => `http://${urlHost}/queue/${region}/${LOCALSTACK_ACCOUNT_ID}/${name}`;
  return { queueUrl: url(QUEUE_NAME), deadLetterQueueUrl: url(DLQ_NAME) };
}

/** The environment `khctl queue ensure` and `queue check` run with on the host. Pure, for tests. */
export function queueEnsureEnv(args: { endpoint: string; region: string }): Record<string, string> {
  return {
    [ENV.awsEndpointUrl]: args.endpoint,
    [ENV.awsRegion]: args.region,
    [ENV.awsAccessKeyId]: LOCALSTACK_CREDENTIALS.accessKeyId,
    [ENV.awsSecretAccessKey]: LOCALSTACK_CREDENTIALS.secretAccessKey,
  };
}

/**
 * What `khctl queue check --json` says: both queues present, one missing (LocalStack restarted), or
 * unknown (LocalStack does not answer: not created yet, or stopped; nothing to heal from here). Pure.
 */
export function parseQueueCheck(stdout: string): Seen {
  let report: { reachable?: unknown; queues?: { url?: unknown }[] };
  try {
    report = JSON.parse(stdout);
  } catch {
    return "unknown";
  }
  if (report.reachable !== true || !Array.isArray(report.queues)) return "unknown";
  return report.queues.every((queue) => typeof queue.url === "string") ? "present" : "missing";
}

/** Runs `khctl queue check` against the stack's LocalStack (an invoke: every preview and update). */
export async function observeQueues(args: { endpoint: string; region: string }): Promise<Seen> {
  const { stdout } = await runOnHost(khctlReport(QUEUE_CHECK_ARGS), queueEnsureEnv(args));
  return parseQueueCheck(stdout);
}

export interface QueueArgs {
  /** SQS endpoint reachable from the host, e.g. http://localhost:4566. */
  readonly endpoint: string;
  readonly region: string;
  /** The host[:port] LocalStack puts in queue URLs (its LOCALSTACK_HOST). */
  readonly urlHost: string;
  /** Changes when LocalStack is recreated (its container id): a new LocalStack has no queues. */
  readonly localstackId: pulumi.Input<string>;
  /** What `khctl queue check` saw on this run: missing queues are created again. */
  readonly seen: Seen;
  /** When it looked. */
  readonly seenAt: Date;
}

/**
 * The workflow queue and its dead-letter queue, created by `khctl queue ensure` (idempotent) once
 * LocalStack is healthy, again when LocalStack is recreated, and again whenever the check finds them gone
 * (LocalStack keeps no queues across a restart). With the path strategy the URLs are the same from the
 * host and from pods.
 */
export class Queue extends pulumi.ComponentResource {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly ensure: command.local.Command;

  constructor(name: string, args: QueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Queue", name, {}, opts);
    const restore = commandRestore(args.seen, args.seenAt);
    this.ensure = new command.local.Command(
      `${name}-ensure`,
      {
        create: khctl(QUEUE_ENSURE_ARGS),
        dir: REPO_ROOT,
        environment: { ...queueEnsureEnv(args), ...restore.environment },
        triggers: [args.localstackId],
        logging: "stderr",
      },
      childOf(this, opts, { ignoreChanges: restore.ignoreChanges }),
    );
    ({ queueUrl: this.queueUrl, deadLetterQueueUrl: this.deadLetterQueueUrl } = queueUrls(
      args.urlHost,
      args.region,
    ));
    this.registerOutputs({ queueUrl: this.queueUrl, deadLetterQueueUrl: this.deadLetterQueueUrl });
  }
}

/** An SQS the team runs (cluster profile): AWS itself, or an emulator at `endpoint`. */
export interface ExternalQueueArgs {
  /** An emulator's endpoint; undefined: AWS itself. */
  readonly endpoint: string | undefined;
  readonly region: string;
  /** Static keys from config; undefined: the host's own AWS credentials (profile, SSO, role). */
  readonly credentials?: {
    readonly accessKeyId: pulumi.Input<string>;
    readonly secretAccessKey: pulumi.Input<string>;
  };
}

/** The environment `khctl queue ensure` runs with against an external SQS. Pure, for tests. */
export function externalQueueEnv(args: ExternalQueueArgs): Record<string, pulumi.Input<string>> {
  return {
    ...(args.endpoint ? { [ENV.awsEndpointUrl]: args.endpoint } : {}),
    [ENV.awsRegion]: args.region,
    ...(args.credentials
      ? {
          [ENV.awsAccessKeyId]: pulumi.secret(args.credentials.accessKeyId),
          [ENV.awsSecretAccessKey]: pulumi.secret(args.credentials.secretAccessKey),
        }
      : {}),
  };
}

/**
 * The queue pair on an external SQS, created by `khctl queue ensure` (idempotent) when the stack is asked
 * to (`keeperhub:createQueues`), and again for another endpoint or region. Without it the stack only
 * checks them (the preflight): on AWS, queues are usually the team's own, with their own policies.
 */
export class ExternalQueues extends pulumi.ComponentResource {
  readonly ensure: command.local.Command;

  constructor(name: string, args: ExternalQueueArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:ExternalQueues", name, {}, opts);
    this.ensure = new command.local.Command(
      `${name}-ensure`,
      {
        create: khctl(QUEUE_ENSURE_ARGS),
        dir: REPO_ROOT,
        environment: externalQueueEnv(args),
        triggers: [args.endpoint ?? "aws", args.region],
        logging: "stderr",
      },
      childOf(this, opts),
    );
    this.registerOutputs({});
  }
}
