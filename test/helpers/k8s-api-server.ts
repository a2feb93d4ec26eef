import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { Job } from "kubernetes-models/batch/v1";
import type { TestCertificate } from "./tls.js";

/**
 * Paths of fields that the Kubernetes schema does not know, found by walking the object along
 * @kubernetes/client-node's model type maps (kubernetes-models validates types but ignores unknown fields).
 * `type` is a client-node model name such as "V1Job".
 */
export function unknownFields(value: unknown, type: string, path = ""): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    const itemType = array[1];
    return Array.isArray(value)
      ? value.flatMap((item, i) => unknownFields(item, itemType, `${path}[${i}]`))
      : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    const valueType = map[1];
    return typeof value === "object"
      ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, valueType, `${path}.${key}`))
      : [];
  }
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] }>)[type];
  const attributes = model?.getAttributeTypeMap?.();
  if (!attributes || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    const at = path ? `${path}.${key}` : key;
    return attribute ? unknownFields(item, attribute.type, at) : [at];
  });
}
interface AttributeType {
  readonly baseName: string;
  readonly type: string;
}

/** Removes the fields unknownFields() reports, in place, as the API server does when not validating strictly. */
function dropUnknownFields(value: unknown, type: string): void {
  for (const field of unknownFields(value, type)) {
    const steps = field.split(/\.|(?=\[)/).map((step) => /^\[(\d+)\]$/.exec(step)?.[1] ?? step);
    const key = steps.pop() as string;
    // biome-ignore lint/suspicious/noExplicitAny: walking free-form JSON along a path just computed from it
    const parent = steps.reduce<any>((object, step) => object?.[step], value);
    if (parent && typeof parent === "object") delete parent[key];
  }
}

/** Values the Kubernetes schema refuses (kubernetes-models validation: types, enums, required); [] when valid. */
export function schemaProblems(body: unknown): string[] {
  try {
    new Job(body as ConstructorParameters<typeof Job>[0]).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** Schema problems of a batch/v1 Job body: invalid values plus unknown fields; [] when valid. */
export function jobProblems(body: unknown): string[] {
  return [
    ...schemaProblems(body),
    ...unknownFields(body, "V1Job").map((field) => `unknown field "${field}"`),
  ];
}

/**
 * How the API server decodes a body with unknown fields (?fieldValidation=): Strict refuses it with 400
 * BadRequest "strict decoding error", naming each field; Warn (the default) and Ignore drop them, Warn
 * with a Warning header per field.
 */
function strictDecodingError(body: unknown, validation: string | null): string | null {
  const unknown = unknownFields(body, "V1Job");
  if (unknown.length === 0 || validation !== "Strict") return null;
  const fields = unknown.map((field) => `unknown field "${field}"`).join(", ");
  return `Job in version "v1" cannot be handled as a Job: strict decoding error: ${fields}`;
}

/** A Kubernetes Status body, as the API server returns on errors. */
export function statusBody(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

/**
 * An injected fault: the next `times` requests that match answer `status`, or proceed normally when it is
 * unset, after `delayMs` and once `holdUntil` has settled.
 */
export interface Fault {
  /** HTTP method to match (GET, POST, DELETE); any when unset. */
  readonly method?: string;
  /** Matched against the request path (without the query). Any when unset. */
  readonly path?: RegExp;
  /** Status code to answer; when unset the request proceeds normally after delayMs. */
  readonly status?: number;
  readonly reason?: string;
  readonly message?: string;
  /** Wait this long before answering (or proceeding), ms. */
  readonly delayMs?: number;
  /** Hold the request until this settles, then answer (or proceed): in flight for as long as the test says. */
  readonly holdUntil?: Promise<unknown>;
  /** How many matching requests this fault applies to. Default 1. */
  readonly times?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: objects in the stub are free-form Kubernetes JSON
type JsonObject = Record<string, any>;

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
}

/** The Job's final state, as the Job controller would set it. */
export type JobOutcome =
  | { readonly succeeded: true }
  | {
      readonly failed: "DeadlineExceeded" | "BackoffLimitExceeded" | (string & {});
      readonly message?: string;
    };

export interface K8sApiServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** A KubeConfig pointing at this server (plain http with skipTLSVerify, a dummy token). */
  kubeConfig(): k8s.KubeConfig;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Job create requests received (including rejected ones). */
  createRequests(): number;
  /** For each Job created, the number of active (unfinished) runner Jobs right after it was stored. */
  readonly activeAtCreate: number[];
  /** Added to every request, ms (the bench uses 20). */
  latencyMs: number;
  /** TCP connections accepted so far. */
  connectionsAccepted(): number;
  /** TCP connections open now. */
  openConnections(): number;
  fail(fault: Fault): void;
  clearFaults(): void;
  jobs(namespace?: string): JsonObject[];
  job(name: string, namespace?: string): JsonObject | undefined;
  pods(namespace?: string): JsonObject[];
  /** Sets a Job's final status (and its pod's phase). */
  setJobOutcome(name: string, outcome: JobOutcome, namespace?: string): void;
  /** Puts the runner container of the Job's pod in a waiting state, e.g. ImagePullBackOff. */
  setPodWaiting(jobName: string, reason: string, message?: string, namespace?: string): void;
  /** Appends text to the log of the Job's pod (followers see it at once). */
  appendPodLog(jobName: string, text: string, namespace?: string): void;
  /** Deletes a Job (and its pods) as `kubectl delete` would. */
  deleteJob(name: string, namespace?: string): void;
  /** Adds a Job directly, skipping the API (e.g. one left by an earlier spawner). */
  putJob(job: object): void;
  close(): Promise<void>;
}

interface PodRecord {
  pod: JsonObject;
  log: string;
  followers: Set<ServerResponse>;
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  return selector
    .split(",")
    .filter(Boolean)
    .every((term) => {
      const notEqual = /^([^!=]+)!=(.*)$/.exec(term);
      if (notEqual) return have[notEqual[1] as string] !== notEqual[2];
      const equal = /^([^!=]+)==?(.*)$/.exec(term);
      if (equal) return have[equal[1] as string] === equal[2];
      if (term.startsWith("!")) return !(term.slice(1) in have);
      return term in have;
    });
}

const now = () => new Date().toISOString();

/** A kubeconfig for the test API server at `url` (a token it accepts, default namespace "local"). */
export function testKubeConfig(url: string, certificate?: TestCertificate): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const trust = certificate
    ? { caData: Buffer.from(certificate.cert).toString("base64") }
    : { skipTLSVerify: true };
  kc.loadFromOptions({
    clusters: [{ name: "test", server: url, ...trust }],
    users: [{ name: "test", token: "test-token" }],
    contexts: [{ name: "test", cluster: "test", user: "test", namespace: "local" }],
    currentContext: "test",
  });
  return kc;
}

/**
 * A small Kubernetes API server for tests on 127.0.0.1: batch/v1 Jobs (create, get, list with label selectors,
 * delete with propagationPolicy), core/v1 pods (list, log with follow), 409 AlreadyExists on duplicate names,
 * injectable faults and latency. It answers as a real kube-apiserver does: a Job body with unknown fields
 * gets 400 BadRequest "strict decoding error" under ?fieldValidation=Strict (else they are dropped), and
 * invalid values (kubernetes-models validation) get 422 Invalid with the problems. Keep it for what the
 * real server (test/real/) cannot do on demand: injected faults and latency. Creating a Job creates its pod, as the Job
 * controller would; tests then set outcomes and pod states.
 */
export async function startK8sApiServer(
  options: {
    latencyMs?: number;
    createPods?: boolean;
    /** Serve HTTPS with this certificate (the kubeconfig trusts it as its CA), as a real API server does. */
    tls?: TestCertificate;
  } = {},
): Promise<K8sApiServer> {
  const jobs = new Map<string, JsonObject>();
  const pods = new Map<string, PodRecord>();
  const faults: { fault: Fault; left: number }[] = [];
  const requests: RecordedRequest[] = [];
  const activeAtCreate: number[] = [];
  let resourceVersion = 1;
  let podCounter = 0;
  const createPods = options.createPods ?? true;
  const key = (namespace: string, name: string) => `${namespace}/${name}`;

  const send = (res: ServerResponse, code: number, body: unknown) => {
    if (res.headersSent) return;
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const podsOfJob = (namespace: string, jobName: string) =>
    [...pods.values()].filter(
      (record) =>
        record.pod.metadata.namespace === namespace && record.pod.metadata.labels?.["job-name"] === jobName,
    );
  const endFollowers = (record: PodRecord) => {
    for (const follower of record.followers) follower.end();
    record.followers.clear();
  };
  const removeJob = (namespace: string, name: string, propagation: string) => {
    jobs.delete(key(namespace, name));
    if (propagation === "Orphan") return;
    for (const record of podsOfJob(namespace, name)) {
      endFollowers(record);
      pods.delete(key(namespace, record.pod.metadata.name));
    }
  };

  const createPodFor = (job: JsonObject) => {
    const namespace = job.metadata.namespace as string;
    const name = `${job.metadata.name}-${(podCounter++).toString(36).padStart(5, "0")}`;
    const template = job.spec?.template ?? {};
    pods.set(key(namespace, name), {
      log: "",
      followers: new Set(),
      pod: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name,
          namespace,
          uid: randomUUID(),
          creationTimestamp: now(),
          labels: { ...(template.metadata?.labels ?? {}), "job-name": job.metadata.name },
        },
        spec: structuredClone(template.spec ?? {}),
        status: { phase: "Pending" },
      },
    });
  };

  const handleJobs = async (req: IncomingMessage, res: ServerResponse, namespace: string, name?: string) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "POST" && !name) {
      let body: JsonObject;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return send(res, 400, statusBody(400, "BadRequest", "request body is not JSON"));
      }
      const validation = url.searchParams.get("fieldValidation");
      const strictError = strictDecodingError(body, validation);
      if (strictError) return send(res, 400, statusBody(400, "BadRequest", strictError));
      const dropped = unknownFields(body, "V1Job");
      if (dropped.length > 0 && validation !== "Ignore") {
        res.setHeader(
          "warning",
          dropped.map((field) => `299 - "unknown field \\"${field}\\""`),
        );
      }
      dropUnknownFields(body, "V1Job");
      const problems = schemaProblems(body);
      const jobName = body?.metadata?.name;
      if (!jobName) problems.push("metadata.name: Required value");
      if (body?.metadata?.namespace && body.metadata.namespace !== namespace) {
        problems.push(`metadata.namespace: does not match the request namespace "${namespace}"`);
      }
      if (problems.length > 0) {
        return send(
          res,
          422,
          statusBody(422, "Invalid", `Job.batch "${jobName ?? ""}" is invalid: ${problems.join("; ")}`),
        );
      }
      if (jobs.has(key(namespace, jobName))) {
        return send(res, 409, statusBody(409, "AlreadyExists", `jobs.batch "${jobName}" already exists`));
      }
      const job = {
        ...body,
        metadata: {
          ...body.metadata,
          namespace,
          uid: randomUUID(),
          resourceVersion: String(resourceVersion++),
          creationTimestamp: now(),
        },
        status: {},
      };
      jobs.set(key(namespace, jobName), job);
      activeAtCreate.push(
        [...jobs.values()].filter((j) => !j.status?.conditions?.some((c: JsonObject) => c.status === "True"))
          .length,
      );
      if (createPods) createPodFor(job);
      return send(res, 201, job);
    }
    if (req.method === "GET" && !name) {
      const selector = url.searchParams.get("labelSelector");
      const items = [...jobs.values()].filter(
        (job) => job.metadata.namespace === namespace && matchesSelector(job.metadata.labels, selector),
      );
      return send(res, 200, {
        apiVersion: "batch/v1",
        kind: "JobList",
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
    }
    const job = name ? jobs.get(key(namespace, name)) : undefined;
    if (!job) return send(res, 404, statusBody(404, "NotFound", `jobs.batch "${name}" not found`));
    if (req.method === "GET") return send(res, 200, job);
    if (req.method === "DELETE") {
      const raw = await readBody(req);
      const options = raw ? (JSON.parse(raw) as JsonObject) : {};
      const propagation = url.searchParams.get("propagationPolicy") ?? options.propagationPolicy ?? "Orphan";
      removeJob(namespace, name as string, propagation);
      return send(res, 200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, kind: "jobs", group: "batch" },
      });
    }
    return send(res, 405, statusBody(405, "MethodNotAllowed", `${req.method} is not supported`));
  };

  const handlePods = (
    req: IncomingMessage,
    res: ServerResponse,
    namespace: string,
    name?: string,
    sub?: string,
  ) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method !== "GET") return send(res, 405, statusBody(405, "MethodNotAllowed", "only GET"));
    if (!name) {
      const selector = url.searchParams.get("labelSelector");
      const items = [...pods.values()]
        .map((record) => record.pod)
        .filter(
          (pod) => pod.metadata.namespace === namespace && matchesSelector(pod.metadata.labels, selector),
        );
      return send(res, 200, { apiVersion: "v1", kind: "PodList", metadata: {}, items });
    }
    const record = pods.get(key(namespace, name));
    if (!record) return send(res, 404, statusBody(404, "NotFound", `pods "${name}" not found`));
    if (!sub) return send(res, 200, record.pod);
    if (sub !== "log") return send(res, 404, statusBody(404, "NotFound", `${sub} not found`));
    res.writeHead(200, { "content-type": "text/plain" });
    res.write(record.log);
    const finished = ["Succeeded", "Failed"].includes(record.pod.status.phase);
    if (url.searchParams.get("follow") === "true" && !finished) {
      record.followers.add(res);
      res.on("close", () => record.followers.delete(res));
    } else {
      res.end();
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    requests.push({ method: req.method ?? "GET", path, query: url.searchParams });
    if (server.latencyMs > 0) await sleep(server.latencyMs);
    const index = faults.findIndex(
      ({ fault }) => (!fault.method || fault.method === req.method) && (!fault.path || fault.path.test(path)),
    );
    if (index >= 0) {
      const entry = faults[index] as { fault: Fault; left: number };
      if (--entry.left <= 0) faults.splice(index, 1);
      const { fault } = entry;
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.holdUntil) await fault.holdUntil.catch(() => {});
      if (fault.status) {
        // Drain the body so the client sees the answer rather than a reset connection.
        await readBody(req);
        return send(
          res,
          fault.status,
          statusBody(
            fault.status,
            fault.reason ?? "InternalError",
            fault.message ?? `injected ${fault.status}`,
          ),
        );
      }
    }
    let match = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(path);
    if (match) return handleJobs(req, res, match[1] as string, match[2]);
    match = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(?:\/(log))?)?$/.exec(path);
    if (match) return handlePods(req, res, match[1] as string, match[2], match[3]);
    if (path === "/apis/batch/v1" || path === "/apis/batch/v1/") {
      return send(res, 200, {
        kind: "APIResourceList",
        apiVersion: "v1",
        groupVersion: "batch/v1",
        resources: [
          {
            name: "jobs",
            singularName: "job",
            namespaced: true,
            kind: "Job",
            verbs: ["create", "delete", "get", "list"],
          },
        ],
      });
    }
    return send(
      res,
      404,
      statusBody(404, "NotFound", `the server could not find the requested resource ${path}`),
    );
  };

  const connections = new Set<Socket>();
  let connectionsAccepted = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error) => send(res, 500, statusBody(500, "InternalError", String(error))));
  };
  const httpServer = options.tls ? createTlsServer(options.tls, handle) : createServer(handle);
  // A TLS connection counts once its handshake is done (a refused one never carries a request).
  httpServer.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
    connections.add(socket);
    connectionsAccepted++;
    socket.on("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const { port } = httpServer.address() as AddressInfo;
  const url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;

  const jobOrThrow = (name: string, namespace: string) => {
    const job = jobs.get(key(namespace, name));
    if (!job) throw new Error(`test server: no Job ${namespace}/${name}`);
    return job;
  };

  const server: K8sApiServer = {
    url,
    requests,
    activeAtCreate,
    latencyMs: options.latencyMs ?? 0,
    connectionsAccepted: () => connectionsAccepted,
    openConnections: () => connections.size,
    kubeConfig: () => testKubeConfig(url, options.tls),
    createRequests: () => requests.filter((r) => r.method === "POST" && r.path.endsWith("/jobs")).length,
    fail(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    jobs: (namespace = "local") => [...jobs.values()].filter((job) => job.metadata.namespace === namespace),
    job: (name, namespace = "local") => jobs.get(key(namespace, name)),
    pods: (namespace = "local") =>
      [...pods.values()].map((record) => record.pod).filter((pod) => pod.metadata.namespace === namespace),
    setJobOutcome(name, outcome, namespace = "local") {
      const job = jobOrThrow(name, namespace);
      const time = now();
      const phase = "succeeded" in outcome ? "Succeeded" : "Failed";
      job.status =
        "succeeded" in outcome
          ? {
              succeeded: 1,
              completionTime: time,
              conditions: [{ type: "Complete", status: "True", lastTransitionTime: time }],
            }
          : {
              failed: 1,
              conditions: [
                { type: "FailureTarget", status: "True", reason: outcome.failed, lastTransitionTime: time },
                {
                  type: "Failed",
                  status: "True",
                  reason: outcome.failed,
                  message:
                    outcome.message ??
                    (outcome.failed === "DeadlineExceeded"
                      ? "Job was active longer than specified deadline"
                      : "Job has reached the specified backoff limit"),
                  lastTransitionTime: time,
                },
              ],
            };
      job.metadata.resourceVersion = String(resourceVersion++);
      for (const record of podsOfJob(namespace, name)) {
        record.pod.status = { ...record.pod.status, phase };
        endFollowers(record);
      }
    },
    setPodWaiting(jobName, reason, message, namespace = "local") {
      jobOrThrow(jobName, namespace);
      for (const record of podsOfJob(namespace, jobName)) {
        record.pod.status = {
          phase: "Pending",
          containerStatuses: [
            {
              name: "runner",
              ready: false,
              restartCount: 0,
              image: record.pod.spec?.containers?.[0]?.image ?? "",
              imageID: "",
              state: { waiting: { reason, message: message ?? `${reason} for the runner image` } },
            },
          ],
        };
      }
    },
    appendPodLog(jobName, text, namespace = "local") {
      for (const record of podsOfJob(namespace, jobName)) {
        record.pod.status = {
          ...record.pod.status,
          phase: record.pod.status.phase === "Pending" ? "Running" : record.pod.status.phase,
        };
        record.log += text;
        for (const follower of record.followers) follower.write(text);
      }
    },
    deleteJob(name, namespace = "local") {
      removeJob(namespace, name, "Background");
    },
    putJob(object) {
      const job = structuredClone(object) as JsonObject;
      const namespace = job.metadata.namespace ?? "local";
      const stored = {
        ...job,
        metadata: { ...job.metadata, namespace, creationTimestamp: now() },
        status: job.status ?? {},
      };
      jobs.set(key(namespace, job.metadata.name), stored);
      if (createPods) createPodFor(stored);
    },
    async close() {
      for (const record of pods.values()) endFollowers(record);
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
  return server;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
