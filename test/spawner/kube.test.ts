import { writeFile } from "node:fs/promises";
import type http from "node:http";
import https from "node:https";
import path from "node:path";
import { ApiException, KubeConfig, RequestContext } from "@kubernetes/client-node";
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
  it("are kept alive: many requests, one after another and ten at once, open no more connections than run at once", async () => {
    const server = await startK8sApiServer();
    try {
      const api = createKubeApi(server.kubeConfig(), { namespace: "local", requestTimeoutMs: 5000 });
      for (let i = 0; i < 20; i++) await listJobs(api, "a=b");
      expect(server.connectionsAccepted()).toBe(1);
      await Promise.all(Array.from({ length: 10 }, () => listJobs(api, "a=b")));
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(10);
      for (let i = 0; i < 20; i++)
        await createJob(
          api,
          buildJobTemplate({ executionId: newId(), workflowId: "wf1", config: testKubernetesConfig() }),
        );
      expect(server.connectionsAccepted()).toBeLessThanOrEqual(10);
    } finally {
      await server.close();
    }
  });

  it("a changed TLS setting gets a new connection, and the old idle one is closed, not left open", async () => {
    const server = await startK8sApiServer();
    try {
      const kc = server.kubeConfig();
      const api = createKubeApi(kc, { namespace: "local", requestTimeoutMs: 5000 });
      await listJobs(api, "a=b");
      await listJobs(api, "a=b");
      expect(server.connectionsAccepted()).toBe(1);
      // The kubeconfig changes under the client (here the TLS server name, as a rewritten kubeconfig would).
      kc.loadFromOptions({
        clusters: [
          {
            ...kc.clusters[0],
            name: "test",
            server: server.url,
            skipTLSVerify: true,
            tlsServerName: "other",
          },
        ],
        users: kc.users,
        contexts: kc.contexts,
        currentContext: kc.currentContext,
      });
      await listJobs(api, "a=b");
      expect(server.connectionsAccepted()).toBe(2);
      await until("the old idle connection closed", () => server.openConnections() === 1);
    } finally {
      await server.close();
    }
  });

  /** The agent keptAliveAuthentication gives a request to the cluster `server`, with the user's client certificate. */
  const agentFor = async (
    auth: ReturnType<typeof keptAliveAuthentication>,
    url = "https://a.example:6443/api",
  ) => {
    const context = new RequestContext(url, "GET" as never);
    await auth.applySecurityAuthentication(context);
    return context.getAgent() as http.Agent & { options: Record<string, unknown>; keepAlive: boolean };
  };
  const kubeConfig = (server: string, certData: string) => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "a", server, caData: Buffer.from("ca").toString("base64") }],
      users: [
        {
          name: "u",
          certData: Buffer.from(certData).toString("base64"),
          keyData: Buffer.from("key").toString("base64"),
        },
      ],
      contexts: [{ name: "a", cluster: "a", user: "u" }],
      currentContext: "a",
    });
    return kc;
  };

  it("over TLS, one keep-alive agent with the kubeconfig's certificates, made again when they change", async () => {
    const kc = kubeConfig("https://a.example:6443", "cert-1");
    const auth = keptAliveAuthentication(kc);
    const first = await agentFor(auth);
    expect(first).toBeInstanceOf(https.Agent);
    expect(first.keepAlive).toBe(true);
    expect(String(first.options.cert)).toBe("cert-1");
    expect(String(first.options.ca)).toBe("ca");
    expect(await agentFor(auth)).toBe(first);
    // A rotated client certificate (an exec plugin's, or a rewritten kubeconfig) gets a new connection.
    kc.loadFromOptions({
      clusters: kc.clusters,
      users: [
        {
          name: "u",
          certData: Buffer.from("cert-2").toString("base64"),
          keyData: Buffer.from("key").toString("base64"),
        },
      ],
      contexts: kc.contexts,
      currentContext: "a",
    });
    const second = await agentFor(auth);
    expect(second).not.toBe(first);
    expect(String(second.options.cert)).toBe("cert-2");
    expect(await agentFor(auth)).toBe(second);
  });

  it("leaves a proxy's agent as the kubeconfig makes it", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "a",
          server: "https://a.example:6443",
          proxyUrl: "http://127.0.0.1:3128",
          skipTLSVerify: true,
        },
      ],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "a", cluster: "a", user: "u" }],
      currentContext: "a",
    });
    const auth = keptAliveAuthentication(kc);
    const agent = await agentFor(auth);
    expect(agent.constructor).not.toBe(https.Agent);
    expect(await agentFor(auth)).not.toBe(agent);
  });
});
