import { writeFile } from "node:fs/promises";
import path from "node:path";
import { ApiException } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { loadKubeConfig } from "../../services/core/kube-config.js";
import { classifyKubeError, jobFinish } from "../../services/spawner/kube.js";
import { createTempDir } from "../helpers/temp.js";

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
