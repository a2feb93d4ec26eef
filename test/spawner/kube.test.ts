import { writeFile } from "node:fs/promises";
import path from "node:path";
import { ApiException, type Cluster, KubeConfig, RequestContext, type User } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildJobTemplate } from "../../services/contracts/job-template.js";
import { newId } from "../../services/core/ids.js";
import { keptAliveAuthentication, loadKubeConfig } from "../../services/core/kube-config.js";
import {
  classifyKubeError,
  createJob,
  createKubeApi,
  jobFinish,
  type KubeApi,
  listJobs,
} from "../../services/spawner/kube.js";
import { type K8sApiServer, startK8sApiServer } from "../helpers/k8s-api-server.js";
import { createTempDir } from "../helpers/temp.js";
import { selfSignedCertificate } from "../helpers/tls.js";
import { until } from "../helpers/wait.js";
import { testKubernetesConfig } from "./fixtures.js";

const file = path.join(await createTempDir("kh-kube"), "config");

beforeAll(async () => {
  await writeFile(
    file,
    `apiVersion: v1
kind: Config
clusters:
- { name: a, cluster: { server: "https://a.example:6443", insecure-skip-tls-verify: true } }
- { name: b, cluster: { server: "https://b.example:6443", insecure-skip-tls-verify: true } }
users:
- { name: u, user: { token: t } }
contexts:
- { name: minikube, context: { cluster: a, user: u } }
- { name: other, context: { cluster: b, user: u } }
current-context: minikube
`,
  );
});

describe("loadKubeConfig", () => {
  it("uses the kubeconfig's current context, or the one asked for", () => {
    expect(loadKubeConfig({ kubeconfig: file }, {}).getCurrentCluster()?.server).toBe(
      "https://a.example:6443",
    );
    expect(loadKubeConfig({ kubeconfig: file, context: "other" }, {}).getCurrentCluster()?.server).toBe(
      "https://b.example:6443",
    );
  });

  it("names a context that is not in the kubeconfig", () => {
    expect(() => loadKubeConfig({ kubeconfig: file, context: "nope" }, {})).toThrow(/kube context "nope"/);
  });

  it("in a pod (KUBERNETES_SERVICE_HOST) with no kubeconfig asked for, it uses the in-cluster account", () => {
    // client-node reads the service host and port from process.env itself.
    vi.stubEnv("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    vi.stubEnv("KUBERNETES_SERVICE_PORT", "443");
    let kc: ReturnType<typeof loadKubeConfig>;
    try {
      kc = loadKubeConfig({}, process.env);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(kc.getCurrentCluster()?.server).toBe("https://10.0.0.1:443");
  });
});

describe("classifyKubeError", () => {
  const apiError = (code: number, reason: string) =>
    new ApiException(
      code,
      "HTTP error",
      JSON.stringify({ kind: "Status", reason, message: `${reason} says no` }),
      {},
    );

  it("409 is exists; 400/403/422 are permanent; 5xx, 429 and network errors are transient", () => {
    expect(classifyKubeError(apiError(409, "AlreadyExists")).kind).toBe("exists");
    for (const [code, reason] of [
      [400, "BadRequest"],
      [403, "Forbidden"],
      [422, "Invalid"],
    ] as const) {
      expect(classifyKubeError(apiError(code, reason))).toEqual({
        kind: "permanent",
        status: code,
        reason,
        message: `${reason} says no`,
      });
    }
    expect(classifyKubeError(apiError(500, "InternalError")).kind).toBe("transient");
    expect(classifyKubeError(apiError(429, "TooManyRequests")).kind).toBe("transient");
    expect(classifyKubeError(Object.assign(new Error("aborted"), { name: "AbortError" }))).toMatchObject({
      kind: "transient",
      reason: "Timeout",
    });
    expect(classifyKubeError(new Error("connect ECONNREFUSED"))).toMatchObject({
      kind: "transient",
      reason: "NetworkError",
    });
  });
});

describe("jobFinish", () => {
  it("reads the final condition, preferring Failed over FailureTarget", () => {
    expect(jobFinish({ status: {} })).toBeNull();
    expect(
      jobFinish({
        status: {
          conditions: [
            { type: "FailureTarget", status: "True", reason: "DeadlineExceeded" },
            { type: "Failed", status: "True", reason: "DeadlineExceeded", message: "too long" },
          ],
        },
      }),
    ).toEqual({ outcome: "failed", reason: "DeadlineExceeded", message: "too long" });
    expect(jobFinish({ status: { conditions: [{ type: "Complete", status: "True" }] } })?.outcome).toBe(
      "succeeded",
    );
    expect(jobFinish({ status: { conditions: [{ type: "Failed", status: "False" }] } })).toBeNull();
  });
});

describe("createJob", () => {
  let server: K8sApiServer;
  let api: KubeApi;
  beforeAll(async () => {
    server = await startK8sApiServer();
    api = createKubeApi(server.kubeConfig(), { namespace: "local", requestTimeoutMs: 5000 });
  });
  afterAll(() => server.close());
  const job = () =>
    buildJobTemplate({ executionId: newId(), workflowId: "wf1", config: testKubernetesConfig() });

  it("sends the Job as built: a misspelt field gets strict validation's 400, classified permanent", async () => {
    const misspelt = job();
    const container = misspelt.spec?.template.spec?.containers[0] as unknown as Record<string, unknown>;
    container.imagePullPolcy = "Never";
    const error = await createJob(api, misspelt).catch((caught: unknown) => caught);
    expect(classifyKubeError(error)).toMatchObject({
      kind: "permanent",
      status: 400,
      reason: "BadRequest",
      message: expect.stringContaining(
        'strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolcy"',
      ),
    });
    expect(server.job(misspelt.metadata?.name as string)).toBeUndefined();
  });

  it("creates a valid Job once; a second create finds it", async () => {
    const valid = job();
    expect(await createJob(api, valid)).toBe("created");
    expect(await createJob(api, valid)).toBe("exists");
    expect(server.jobs().filter((stored) => stored.metadata.name === valid.metadata?.name)).toHaveLength(1);
  });
});

describe("connections to the API server", () => {
  // undici hands a connection back to its pool a moment after the response ends, so the request right
  // after the first may open a second one; then the two serve every later request. A connection per
  // request (what client-node does for a TLS cluster) would be one per request.
  const KEPT_CONNECTIONS = 2;

  it("are kept alive: many requests, one after another and ten at once, open no more connections than run at once", async () => {
    const server = await startK8sApiServer();
    try {
      const api = createKubeApi(server.kubeConfig(), { namespace: "local", requestTimeoutMs: 5000 });
      for (let i = 0; i < 20; i++) await listJobs(api, "a=b");
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(KEPT_CONNECTIONS);
      await Promise.all(Array.from({ length: 10 }, () => listJobs(api, "a=b")));
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(10 + KEPT_CONNECTIONS - 1);
      for (let i = 0; i < 20; i++)
        await createJob(
          api,
          buildJobTemplate({ executionId: newId(), workflowId: "wf1", config: testKubernetesConfig() }),
        );
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(10 + KEPT_CONNECTIONS - 1);
    } finally {
      await server.close();
    }
  });

  /** A client of the TLS test server; `change` rewrites its kubeconfig's cluster or user under it. */
  const tlsClient = async () => {
    const server = await startK8sApiServer({ tls: await selfSignedCertificate() });
    const kc = server.kubeConfig();
    const api = createKubeApi(kc, { namespace: "local", requestTimeoutMs: 5000 });
    const change = (cluster: Partial<Cluster>, user: Partial<User> = {}) =>
      kc.loadFromOptions({
        clusters: [{ ...(kc.clusters[0] as Cluster), ...cluster }],
        users: [{ ...(kc.users[0] as User), ...user }],
        contexts: kc.contexts,
        currentContext: kc.currentContext,
      });
    return { server, api, change };
  };

  it("over TLS, 1,000 Job creates one after another open one connection (client-node makes a new pool per request)", async () => {
    const { server, api } = await tlsClient();
    try {
      for (let i = 0; i < 1000; i++)
        await createJob(
          api,
          buildJobTemplate({ executionId: newId(), workflowId: "wf1", config: testKubernetesConfig() }),
        );
      expect(server.createRequests()).toBe(1000);
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(KEPT_CONNECTIONS);
    } finally {
      await server.close();
    }
  });

  it("over TLS, a changed server name or a rotated client certificate gets a new connection, and the old idle one is closed", async () => {
    const { server, api, change } = await tlsClient();
    try {
      for (let i = 0; i < 5; i++) await listJobs(api, "a=b");
      const first = server.connectionsAccepted();
      expect(first).toBeLessThanOrEqual(KEPT_CONNECTIONS);
      // The kubeconfig changes under the client (a rewritten kubeconfig, or an exec plugin's new certificate).
      change({ tlsServerName: "localhost" });
      for (let i = 0; i < 5; i++) await listJobs(api, "a=b");
      const second = server.connectionsAccepted();
      expect(second - first).toBeGreaterThanOrEqual(1);
      expect(second - first).toBeLessThanOrEqual(KEPT_CONNECTIONS);
      await until("the old idle connections closed", () => server.openConnections() <= second - first);
      const client = await selfSignedCertificate();
      change(
        { tlsServerName: "localhost" },
        {
          certData: Buffer.from(client.cert).toString("base64"),
          keyData: Buffer.from(client.key).toString("base64"),
        },
      );
      await listJobs(api, "a=b");
      expect(server.connectionsAccepted()).toBe(second + 1);
      await until("the second pool's idle connections closed", () => server.openConnections() === 1);
    } finally {
      await server.close();
    }
  });

  it("leaves a proxy's dispatcher as the client makes it", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "a",
          server: "https://a.example:6443",
          proxyUrl: "http://127.0.0.1:3128",
          caData: Buffer.from("ca").toString("base64"),
        },
      ],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "a", cluster: "a", user: "u" }],
      currentContext: "a",
    });
    const auth = keptAliveAuthentication(kc);
    const dispatcherOf = async () => {
      const context = new RequestContext("https://a.example:6443/api", "GET" as never);
      await auth.applySecurityAuthentication(context);
      return context.getDispatcher();
    };
    const first = await dispatcherOf();
    expect(first?.constructor.name).toBe("ProxyAgent");
    expect(await dispatcherOf()).not.toBe(first);
    await first?.close();
  });
});
