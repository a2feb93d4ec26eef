import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { AuthorizationV1Api, VersionApi } from "@kubernetes/client-node";
import { SPAWNER_API_ACCESS } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { kubeApiConfiguration, loadKubeConfig } from "../core/kube-config.js";
import { createPool } from "../db/pool.js";
import { createSqsClient, type SqsConnection } from "../queue/client.js";
import { isMissingQueueError } from "../queue/ensure.js";
import type { CheckResult } from "./checks.js";

/**
 * The cluster profile's preflight (`khctl doctor --profile cluster`): before `pulumi up -s cluster`
 * changes anything, the context answers, its user may do what the program does, and the registry, the
 * database and the queue answer from this machine. Each check is a function of its target and a probe,
 * so a test can run it against a real API server, registry, Postgres and SQS.
 */

/** What the cluster stack deploys to. */
export interface ClusterTarget {
  readonly context: string;
  /** The kubeconfig file; undefined: KUBECONFIG, else ~/.kube/config. */
  readonly kubeconfig?: string;
  readonly namespace: string;
  /** `host[:port]/path` the images are pushed under. */
  readonly registry: string;
  readonly databaseUrl: string | undefined;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly sqs: SqsConnection;
  /** `pulumi up` creates the queues: missing ones are fine, an SQS that does not answer is not. */
  readonly createQueues: boolean;
}

/** One permission the program needs: a verb on a resource (namespaced unless `cluster`). */
export interface Access {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  /** Cluster-scoped (namespaces). */
  readonly cluster?: boolean;
}

/** The objects the cluster stack declares, as (group, resource): Pulumi gets, creates, patches and deletes each. */
export const CLUSTER_STACK_OBJECTS = [
  { group: "", resource: "namespaces", cluster: true },
  { group: "", resource: "resourcequotas" },
  { group: "", resource: "limitranges" },
  { group: "", resource: "configmaps" },
  { group: "", resource: "secrets" },
  { group: "", resource: "serviceaccounts" },
  { group: "rbac.authorization.k8s.io", resource: "roles" },
  { group: "rbac.authorization.k8s.io", resource: "rolebindings" },
  { group: "apps", resource: "deployments" },
  { group: "batch", resource: "cronjobs" },
  { group: "policy", resource: "poddisruptionbudgets" },
] as const;

/**
 * Every permission `pulumi up` and `destroy -s cluster` use: each object's verbs (server-side apply
 * patches), the runner-Job clean-up's, and what the spawner's Role grants: RBAC lets a user create a Role
 * only with permissions it holds itself (or `escalate`). Pure.
 */
export function clusterStackAccess(): Access[] {
  const objects = CLUSTER_STACK_OBJECTS.flatMap((object) =>
    ["get", "create", "patch", "delete"].map((verb) => ({ ...object, verb })),
  );
  const cleanup = ["list", "delete"].map((verb) => ({ group: "batch", resource: "jobs", verb }));
  const granted = SPAWNER_API_ACCESS.flatMap((rule) =>
    rule.resources.flatMap((resource) =>
      rule.verbs.map((verb) => ({ group: rule.apiGroups[0] ?? "", resource, verb })),
    ),
  );
  const all = [...objects, ...cleanup, ...granted];
  const key = (a: Access) => `${a.verb} ${a.group}/${a.resource}`;
  return [...new Map(all.map((access) => [key(access), access])).values()];
}

/** `verb group/resource`, as a person reads it (`create apps/deployments`, `get pods/log`). */
export const describeAccess = (a: Access): string => `${a.verb} ${a.group ? `${a.group}/` : ""}${a.resource}`;

/** The machine and the services as the checks see them; systemClusterProbes is the real one. */
export interface ClusterProbes {
  /** The API server's version (`gitVersion`); rejects when it does not answer. */
  serverVersion(target: ClusterTarget): Promise<string>;
  /** Whether the context's user may do each (SelfSubjectAccessReview), in order. */
  allowed(target: ClusterTarget, access: readonly Access[]): Promise<boolean[]>;
  /** The HTTP status of the registry's `/v2/`; rejects when nothing answers. */
  registryStatus(url: string): Promise<number>;
  /** The server version of Postgres; rejects when it cannot connect. */
  databaseVersion(url: string): Promise<string>;
  /** Whether the queue exists (false: SQS answers, the queue is missing); rejects when SQS does not answer. */
  queueExists(target: ClusterTarget, url: string): Promise<boolean>;
}

/**
 * The registry's API root: plain HTTP for a loopback registry (Docker pushes to 127.0.0.0/8 and
 * localhost over HTTP without configuration), HTTPS for any other. Pure.
 */
export function registryApiUrl(registry: string): string {
  const server = registry.split("/")[0] ?? registry;
  const host = server.replace(/:\d+$/, "");
  const loopback = host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]";
  return `${loopback ? "http" : "https"}://${server}/v2/`;
}

const fail = (name: string, message: string, fix: string): CheckResult => ({
  name,
  ok: false,
  required: true,
  message,
  fix,
});

/** `context`: the API server answers through the stack's context. */
export async function checkContext(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult> {
  try {
    const version = await probes.serverVersion(target);
    return {
      name: "context",
      ok: true,
      required: true,
      message: `context ${target.context}: Kubernetes ${version}`,
    };
  } catch (error) {
    return fail(
      "context",
      `context ${target.context} does not answer: ${errorMessage(error)}`,
      `kubectl --context ${target.context} version; set keeperhub:kubeContext (and keeperhub:kubeconfig) to a context that reaches the cluster`,
    );
  }
}

/** `rbac`: the context's user may do everything the program does (clusterStackAccess). */
export async function checkAccess(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult> {
  const access = clusterStackAccess();
  try {
    const allowed = await probes.allowed(target, access);
    const denied = access.filter((_, i) => !allowed[i]).map(describeAccess);
    if (denied.length === 0) {
      return {
        name: "rbac",
        ok: true,
        required: true,
        message: `${access.length} permissions in namespace ${target.namespace}, all allowed`,
      };
    }
    return fail(
      "rbac",
      `in namespace ${target.namespace} the context's user may not: ${denied.join(", ")}`,
      `grant them (a Role in ${target.namespace}, plus create/get/patch/delete on namespaces), or use a context whose user has them: kubectl --context ${target.context} auth can-i --list -n ${target.namespace}`,
    );
  } catch (error) {
    return fail("rbac", `the access review failed: ${errorMessage(error)}`, "check the context first");
  }
}

/** `registry`: its `/v2/` answers (200, or 401: it asks for the credentials the push gives). */
export async function checkRegistry(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult> {
  const url = registryApiUrl(target.registry);
  try {
    const status = await probes.registryStatus(url);
    if (status === 200 || status === 401) {
      return {
        name: "registry",
        ok: true,
        required: true,
        message: `${url} answers ${status}${status === 401 ? " (credentials needed: the push gives them)" : ""}`,
      };
    }
    return fail(
      "registry",
      `${url} answers ${status}, not a registry's 200 or 401`,
      "check keeperhub:registry",
    );
  } catch (error) {
    return fail(
      "registry",
      `${url} does not answer: ${errorMessage(error)}`,
      `start the registry or fix keeperhub:registry (host[:port]/path); curl -sI ${url}`,
    );
  }
}

/** `database`: Postgres at databaseUrl accepts a connection from here (the migrations run from here). */
export async function checkDatabase(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult> {
  const fix =
    "pulumi config set --secret keeperhub:databaseUrl postgres://user:password@host:5432/db; the database must accept connections from this machine and from the pods";
  if (!target.databaseUrl) return fail("database", "no database URL (DATABASE_URL)", fix);
  let where = "the database";
  try {
    const url = new URL(target.databaseUrl);
    where = `${url.hostname}:${url.port || 5432}${url.pathname}`;
    const version = await probes.databaseVersion(target.databaseUrl);
    return { name: "database", ok: true, required: true, message: `${where}: PostgreSQL ${version}` };
  } catch (error) {
    return fail("database", `${where} does not accept a connection: ${errorMessage(error)}`, fix);
  }
}

/** `queue`: both queues exist (or, with createQueues, SQS answers and `pulumi up` makes them). */
export async function checkQueues(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult> {
  const where = target.sqs.endpoint ?? `AWS SQS (${target.sqs.region ?? "default region"})`;
  try {
    const exists = await Promise.all(
      [target.queueUrl, target.dlqUrl].map((url) => probes.queueExists(target, url)),
    );
    const missing = [target.queueUrl, target.dlqUrl].filter((_, i) => !exists[i]);
    if (missing.length === 0 || target.createQueues) {
      const note =
        missing.length === 0 ? "both queues exist" : `${missing.length} missing: pulumi up creates them`;
      return { name: "queue", ok: true, required: true, message: `${where}: ${note}` };
    }
    return fail(
      "queue",
      `${where}: no queue at ${missing.join(", ")}`,
      "create them (pulumi config set keeperhub:createQueues true, or your own SQS set-up), or fix keeperhub:queueUrl and keeperhub:dlqUrl",
    );
  } catch (error) {
    return fail(
      "queue",
      `${where} does not answer: ${errorMessage(error)}`,
      "check keeperhub:sqsEndpoint, keeperhub:awsRegion and this machine's AWS credentials",
    );
  }
}

/** Every cluster check, at once; never throws (every failure is a result). */
export function runClusterChecks(target: ClusterTarget, probes: ClusterProbes): Promise<CheckResult[]> {
  return Promise.all([
    checkContext(target, probes),
    checkAccess(target, probes),
    checkRegistry(target, probes),
    checkDatabase(target, probes),
    checkQueues(target, probes),
  ]);
}

/** Seconds any one probe may take: a preflight that hangs is worse than one that fails. */
export const CLUSTER_PROBE_TIMEOUT_MS = 10_000;

/** The real probes: the Kubernetes API through the context, fetch, pg and the SQS client. */
export function systemClusterProbes(): ClusterProbes {
  const kube = (target: ClusterTarget) =>
    kubeApiConfiguration(
      loadKubeConfig({ context: target.context, kubeconfig: target.kubeconfig }),
      CLUSTER_PROBE_TIMEOUT_MS,
    );
  return {
    serverVersion: async (target) => (await new VersionApi(kube(target)).getCode()).gitVersion,
    allowed: (target, access) => accessReviews(new AuthorizationV1Api(kube(target)), target, access),
    registryStatus: async (url) => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(CLUSTER_PROBE_TIMEOUT_MS) })).status;
      } catch (error) {
        // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, a certificate).
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(cause?.code ?? cause?.message ?? errorMessage(error));
      }
    },
    databaseVersion: async (url) => {
      const pool = createPool(url, { max: 1, applicationName: "khctl-doctor" });
      try {
        const { rows } = await pool.query<{ version: string }>(
          "SELECT current_setting('server_version') AS version",
        );
        return rows[0]?.version ?? "?";
      } finally {
        await pool.end().catch(() => {});
      }
    },
    queueExists: async (target, url) => {
      const sqs = createSqsClient(target.sqs);
      try {
        await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
        return true;
      } catch (error) {
        if (isMissingQueueError(error)) return false;
        throw error;
      } finally {
        sqs.destroy();
      }
    },
  };
}

/** One SelfSubjectAccessReview per permission, at once: what `kubectl auth can-i` asks. */
function accessReviews(
  api: AuthorizationV1Api,
  target: ClusterTarget,
  access: readonly Access[],
): Promise<boolean[]> {
  return Promise.all(
    access.map(async (a) => {
      const [resource, subresource] = a.resource.split("/");
      const review = await api.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              group: a.group,
              resource,
              ...(subresource ? { subresource } : {}),
              verb: a.verb,
              ...(a.cluster ? {} : { namespace: target.namespace }),
            },
          },
        },
      });
      return review.status?.allowed === true;
    }),
  );
}
