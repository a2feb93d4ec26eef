import type { SQSClient } from "@aws-sdk/client-sqs";
import { DOCKER, PROFILES, type Profile, STACK_LABEL, STACK_OF_PROFILE } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { loadKubeConfig } from "../core/kube-config.js";
import { createPool } from "../db/pool.js";
import type { DevState } from "../dev/instance.js";
import { type ContainerInfo, inspectRestarts, listContainers } from "../doctor/docker.js";
import { type Exec, exec } from "../doctor/exec.js";
import { createSqsClient, type SqsConnection } from "../queue/client.js";
import { deadLetteredExecutions } from "../queue/dlq.js";
import { findDeadLetterQueueUrl } from "../queue/ensure.js";
import { containersPart, isStackContainer } from "./containers.js";
import { devPart, dispatcherPart, executorPart, postgresPart } from "./embedded.js";
import { executionsPart } from "./executions.js";
import { type KubeSource, kubernetesPart, kubeSource } from "./kubernetes.js";
import { minikubePart } from "./minikube.js";
import { type StatusPart, unreachable } from "./parts.js";
import { queuePart } from "./queue.js";

/** What `khctl status` can look at: khctl dev (embedded), or one of the stacks' profiles. */
export const STATUS_PROFILES = ["embedded", ...PROFILES] as const;
export type StatusProfile = (typeof STATUS_PROFILES)[number];

export interface StatusOptions {
  /**
   * embedded (khctl dev), dev (stack local) or minikube (stack hybrid); undefined: read from the Postgres
   * container's stack label.
   */
  readonly profile: StatusProfile | undefined;
  /** For the embedded profile: the khctl dev found (null: none runs), and the data dir looked at. */
  readonly dev?: { readonly state: DevState | null; readonly dataDir: string };
  readonly minikubeProfile: string;
  /** kubeconfig context; undefined: the current one. */
  readonly kubeContext: string | undefined;
  readonly namespace: string;
  /** Unset: the executions part says how to set it. */
  readonly databaseUrl: string | undefined;
  readonly queueUrl: string;
  readonly sqs: SqsConnection;
  /** A part that takes longer is reported as unreachable, ms. Default 15000. */
  readonly partTimeoutMs?: number;
}

/** How `khctl status` reaches each part. Injected so tests use fauxqs, a test API server, a fake docker. */
export interface StatusDeps {
  readonly exec: Exec;
  readonly kube: (context: string | undefined) => KubeSource;
  readonly sqs: (connection: SqsConnection) => SQSClient;
}

export const systemStatusDeps: StatusDeps = {
  exec,
  kube: (context) => kubeSource(loadKubeConfig({ context })),
  sqs: (connection) => createSqsClient(connection),
};

export interface StatusReport {
  readonly profile: StatusProfile;
  /** Names of the required parts that are down. */
  readonly down: string[];
  readonly parts: StatusPart[];
}

async function withTimeout(name: string, ms: number, work: Promise<StatusPart>): Promise<StatusPart> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<StatusPart>((resolve) => {
    timer = setTimeout(() => resolve(unreachable(name, true, `no answer within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function databasePart(url: string | undefined, deadLettered: Promise<string[]>): Promise<StatusPart> {
  if (!url) {
    return unreachable(
      "executions",
      true,
      "DATABASE_URL is not set (export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets))",
    );
  }
  const pool = createPool(url, { max: 1, applicationName: "khctl-status" });
  try {
    return await executionsPart(pool, { deadLettered: await deadLettered });
  } finally {
    await pool.end().catch(() => {});
  }
}

/** Execution ids in the queue's DLQ (none when there is no DLQ or SQS cannot be read: the queue part says why). */
async function deadLettered(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  try {
    const dlq = await findDeadLetterQueueUrl(sqs, queueUrl);
    return dlq ? await deadLetteredExecutions(sqs, dlq) : [];
  } catch {
    return [];
  }
}

/**
 * The containers part, with each stack container's restart count from `docker inspect` (a crash-looping
 * container is `running` between its crashes). Without the counts (a container removed in between) it still
 * shows what `docker ps` said.
 */
async function containersWithRestarts(
  exec: Exec,
  profile: Profile,
  listed: ContainerInfo[] | Error,
): Promise<StatusPart> {
  const names = Array.isArray(listed) ? listed.filter(isStackContainer).map((c) => c.name) : [];
  const restarts = await inspectRestarts(exec, names).catch(() => undefined);
  return containersPart(profile, listed, restarts);
}

/** Collects every part at once; a part that fails is one line in the report, never an exception. */
export async function collectStatus(
  options: StatusOptions,
  deps: StatusDeps = systemStatusDeps,
): Promise<StatusReport> {
  const ms = options.partTimeoutMs ?? 15_000;
  if (options.profile === "embedded") return collectEmbedded(options, deps, ms);
  if (options.profile === "cluster") return collectCluster(options, deps, ms);
  const listed = await listContainers(deps.exec).catch((error: unknown) => new Error(errorMessage(error)));
  // Without --profile, the stack label of the Postgres container tells which stack is up.
  const stackOf = Array.isArray(listed)
    ? listed.find((c) => c.name === DOCKER.postgres)?.labels[STACK_LABEL]
    : undefined;
  const profile: Profile = options.profile ?? (stackOf === STACK_OF_PROFILE.minikube ? "minikube" : "dev");

  const sqsClient = deps.sqs(options.sqs);
  try {
    const pending: Promise<StatusPart>[] = [containersWithRestarts(deps.exec, profile, listed)];
    if (profile === "minikube") {
      pending.push(withTimeout("minikube", ms, minikubePart(deps.exec, options.minikubeProfile)));
      pending.push(kubernetesPartFor(options, deps, ms));
    }
    pending.push(withTimeout("queue", ms, queuePart(sqsClient, options.queueUrl)));
    pending.push(
      withTimeout(
        "executions",
        ms,
        databasePart(options.databaseUrl, deadLettered(sqsClient, options.queueUrl)),
      ),
    );
    const parts = await Promise.all(pending);
    return { profile, parts, down: parts.filter((p) => p.required && !p.ok).map((p) => p.name) };
  } finally {
    sqsClient.destroy();
  }
}

/** The kubernetes part through the options' context; a context that cannot be loaded is its one line. */
function kubernetesPartFor(options: StatusOptions, deps: StatusDeps, ms: number): Promise<StatusPart> {
  let source: KubeSource | Error;
  try {
    source = deps.kube(options.kubeContext);
  } catch (error) {
    source = new Error(errorMessage(error));
  }
  return withTimeout(
    "kubernetes",
    ms,
    kubernetesPart(source, {
      namespace: options.namespace,
      context: options.kubeContext,
      stack: options.profile === "cluster" ? "cluster" : "hybrid",
    }),
  );
}

/**
 * The cluster profile: no containers and no minikube (the database, the queue and the cluster are the
 * team's), so the objects through the stack's context, the queues and the executions.
 */
async function collectCluster(options: StatusOptions, deps: StatusDeps, ms: number): Promise<StatusReport> {
  const sqsClient = deps.sqs(options.sqs);
  try {
    const parts = await Promise.all([
      kubernetesPartFor(options, deps, ms),
      withTimeout("queue", ms, queuePart(sqsClient, options.queueUrl)),
      withTimeout(
        "executions",
        ms,
        databasePart(options.databaseUrl, deadLettered(sqsClient, options.queueUrl)),
      ),
    ]);
    return { profile: "cluster", parts, down: parts.filter((p) => p.required && !p.ok).map((p) => p.name) };
  } finally {
    sqsClient.destroy();
  }
}

/** khctl dev: the process and its heartbeat, its Postgres, queue, dispatcher, executor and the last runs. */
async function collectEmbedded(options: StatusOptions, deps: StatusDeps, ms: number): Promise<StatusReport> {
  const dev = options.dev?.state ?? null;
  const sqsClient = deps.sqs(options.sqs);
  try {
    const parts = await Promise.all([
      devPart(dev, options.dev?.dataDir ?? "?"),
      withTimeout("postgres", ms, postgresPart(options.databaseUrl)),
      withTimeout("queue", ms, queuePart(sqsClient, options.queueUrl)),
      dispatcherPart(dev),
      executorPart(dev),
      withTimeout(
        "executions",
        ms,
        databasePart(options.databaseUrl, deadLettered(sqsClient, options.queueUrl)),
      ),
    ]);
    return { profile: "embedded", parts, down: parts.filter((p) => p.required && !p.ok).map((p) => p.name) };
  } finally {
    sqsClient.destroy();
  }
}

/** One screen: a line per part (ok or DOWN, and its summary), its details indented under it. Pure. */
export function renderStatus(report: StatusReport): string {
  const lines = [
    report.profile === "embedded"
      ? "profile embedded (khctl dev)"
      : `profile ${report.profile} (stack ${STACK_OF_PROFILE[report.profile]})`,
  ];
  for (const part of report.parts) {
    lines.push(
      `${(part.ok ? "ok" : part.required ? "DOWN" : "warn").padEnd(5)}${part.name.padEnd(12)}${part.summary}`,
    );
    for (const line of part.lines) lines.push(`       ${line}`);
  }
  return lines.join("\n");
}
