import {
  ApiException,
  BatchV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  type KubeConfig,
  Observable,
  type RequestContext,
  ResponseContext,
  type V1Job,
  type V1Pod,
} from "@kubernetes/client-node";
import { errorMessage } from "../core/errors.js";
import { kubeApiConfiguration } from "../core/kube-config.js";

/**
 * The Kubernetes side of the spawner: API clients whose requests time out, the classification of API
 * errors into "exists", "permanent" and "transient", and the Job operations. Loading a KubeConfig is
 * in core/kube-config.ts.
 */

export interface KubeApi {
  readonly kc: KubeConfig;
  readonly batch: BatchV1Api;
  readonly core: CoreV1Api;
  readonly namespace: string;
}

/**
 * API clients for the KubeConfig's current cluster. Every request is aborted after requestTimeoutMs, so a
 * hung API server shows up as a (transient) error rather than a handler that never returns.
 */
export function createKubeApi(
  kc: KubeConfig,
  options: { namespace: string; requestTimeoutMs?: number },
): KubeApi {
  const configuration = kubeApiConfiguration(kc, options.requestTimeoutMs ?? 10_000);
  return {
    kc,
    batch: new BatchV1Api(configuration),
    core: new CoreV1Api(configuration),
    namespace: options.namespace,
  };
}

/** What an API error means for the caller. */
export interface KubeErrorInfo {
  /** exists: 409 AlreadyExists; permanent: retrying cannot help (400, 403, 422); transient: try again later. */
  readonly kind: "exists" | "permanent" | "transient" | "not-found";
  /** HTTP status, when there was a response. */
  readonly status?: number;
  /** The API's reason (AlreadyExists, Forbidden, Invalid, ...), "Timeout" or "NetworkError". */
  readonly reason: string;
  /** The API's message, or the client's error message. */
  readonly message: string;
}

// Statuses a Job create can never get past by retrying: a malformed body, RBAC, or schema validation.
const PERMANENT_STATUSES = new Set([400, 403, 422]);

/** Classifies anything the client threw. 5xx, 429, 401, timeouts and network errors are transient. */
export function classifyKubeError(error: unknown): KubeErrorInfo {
  if (error instanceof ApiException) {
    const status = error.code;
    const body = parseStatusBody(error.body);
    const reason = body.reason ?? `HTTP${status}`;
    const message = body.message ?? errorMessage(error);
    if (status === 409) return { kind: "exists", status, reason, message };
    if (status === 404) return { kind: "not-found", status, reason, message };
    if (PERMANENT_STATUSES.has(status)) return { kind: "permanent", status, reason, message };
    return { kind: "transient", status, reason, message };
  }
  const name = (error as { name?: string; type?: string })?.name;
  const type = (error as { type?: string })?.type;
  if (name === "AbortError" || name === "TimeoutError" || type === "aborted") {
    return { kind: "transient", reason: "Timeout", message: "Kubernetes API request timed out" };
  }
  return { kind: "transient", reason: "NetworkError", message: errorMessage(error) };
}

function parseStatusBody(body: unknown): { reason?: string; message?: string } {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body || undefined };
    }
  }
  if (value && typeof value === "object") {
    const { reason, message } = value as { reason?: unknown; message?: unknown };
    return {
      ...(typeof reason === "string" && reason ? { reason } : {}),
      ...(typeof message === "string" && message ? { message } : {}),
    };
  }
  return {};
}

/**
 * Per-call options that send `body` exactly as built, as JSON, and skip the typed models both ways. The
 * client serialises request bodies through its typed models, which drop every key they do not know: a
 * misspelt field would never reach the server, and strict field validation could never refuse it. So the
 * client is given an empty placeholder to serialise, and the JSON is set here. A created object's answer
 * is read (the connection is then free for the next request) but not turned into models nobody reads: that
 * walk and the placeholder's were a tenth of the spawner's CPU per Job. An error's answer is left whole.
 */
function sendAsBuilt(body: object): ConfigurationOptions {
  const json = JSON.stringify(body);
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setBody(json);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(unreadIfCreated(context)),
      },
    ],
    // After the configuration's own middleware (the request timeout), which must still apply.
    middlewareMergeStrategy: "append",
  };
}

const EMPTY_OBJECT = "{}";

async function unreadIfCreated(context: ResponseContext): Promise<ResponseContext> {
  if (context.httpStatusCode < 200 || context.httpStatusCode > 299) return context;
  await context.body.text();
  return new ResponseContext(context.httpStatusCode, context.headers, {
    text: async () => EMPTY_OBJECT,
    binary: async () => Buffer.from(EMPTY_OBJECT),
    stream: () => null,
  });
}

/**
 * Creates the Job exactly as built; resolves "created", or "exists" when a Job of that name is already
 * there. Strict field validation: an unknown field is a 400 (permanent), never silently dropped, so a
 * template that drifted from the API fails loudly on its first create.
 */
export async function createJob(api: KubeApi, job: V1Job): Promise<"created" | "exists"> {
  try {
    await api.batch.createNamespacedJob(
      { namespace: api.namespace, body: {}, fieldValidation: "Strict" },
      sendAsBuilt(job),
    );
    return "created";
  } catch (error) {
    if (classifyKubeError(error).kind === "exists") return "exists";
    throw error;
  }
}

export async function listJobs(api: KubeApi, labelSelector: string): Promise<V1Job[]> {
  return (await api.batch.listNamespacedJob({ namespace: api.namespace, labelSelector })).items;
}

export async function listPods(api: KubeApi, labelSelector: string): Promise<V1Pod[]> {
  return (await api.core.listNamespacedPod({ namespace: api.namespace, labelSelector })).items;
}

/** Deletes a Job and its pods; a Job already gone is fine. */
export async function deleteJob(api: KubeApi, name: string): Promise<void> {
  try {
    await api.batch.deleteNamespacedJob({ name, namespace: api.namespace, propagationPolicy: "Background" });
  } catch (error) {
    if (classifyKubeError(error).kind !== "not-found") throw error;
  }
}

/** How a Job ended, from its conditions; null while it is still active. */
export function jobFinish(
  job: V1Job,
): { outcome: "succeeded" | "failed"; reason: string; message: string } | null {
  const conditions = (job.status?.conditions ?? []).filter((condition) => condition.status === "True");
  // The final conditions first: FailureTarget/SuccessCriteriaMet come earlier and may carry less detail.
  for (const [types, outcome] of [
    [["Failed"], "failed"],
    [["Complete"], "succeeded"],
    [["FailureTarget"], "failed"],
    [["SuccessCriteriaMet"], "succeeded"],
  ] as const) {
    const condition = conditions.find((c) => (types as readonly string[]).includes(c.type));
    if (condition) {
      const fallback = outcome === "failed" ? "Failed" : "Complete";
      return { outcome, reason: condition.reason ?? fallback, message: condition.message ?? "" };
    }
  }
  if ((job.status?.succeeded ?? 0) > 0) return { outcome: "succeeded", reason: "Complete", message: "" };
  if ((job.status?.failed ?? 0) > 0) return { outcome: "failed", reason: "Failed", message: "" };
  return null;
}

/** A Job that still holds (or will hold) a runner slot: not finished and not being deleted. */
export const isActiveJob = (job: V1Job): boolean =>
  !job.metadata?.deletionTimestamp && jobFinish(job) === null;
