import { describe, expect, it } from "vitest";
import {
  ConfigError,
  loadDatabaseConfig,
  loadKubernetesConfig,
  loadQueueConfig,
} from "../../services/core/config.js";

describe("service config from env", () => {
  it("names the missing variable in one line", () => {
    expect(() => loadDatabaseConfig({})).toThrow(new ConfigError("DATABASE_URL is not set"));
    expect(() => loadQueueConfig({})).toThrow(/^SQS_QUEUE_URL is not set$/);
    expect(() => loadDatabaseConfig({ DATABASE_URL: "" })).toThrow(/^DATABASE_URL is not set$/);
  });

  it("names the malformed variable and what it must be", () => {
    expect(() => loadDatabaseConfig({ DATABASE_URL: "mysql://x/y" })).toThrow(
      "DATABASE_URL must be a postgres:// URL",
    );
    expect(() =>
      loadKubernetesConfig({ RUNNER_IMAGE: "keeperhub-runner:abc", JOB_TTL_SECONDS: "soon" }),
    ).toThrow(/^JOB_TTL_SECONDS /);
    expect(() => loadKubernetesConfig({ RUNNER_IMAGE: "keeperhub-runner:latest" })).toThrow(
      "RUNNER_IMAGE must be pinned, not :latest",
    );
  });

  it("fills documented defaults and treats empty strings as unset", () => {
    const config = loadKubernetesConfig({ RUNNER_IMAGE: "keeperhub-runner:0123abcd", K8S_NAMESPACE: "" });
    expect(config).toEqual({
      namespace: "local",
      runnerImage: "keeperhub-runner:0123abcd",
      jobTtlSeconds: 3600,
      jobActiveDeadlineSeconds: 300,
      maxConcurrentJobs: 10,
    });
    expect(loadQueueConfig({ SQS_QUEUE_URL: "http://127.0.0.1:4566/000000000000/q" }).region).toBe(
      "us-east-1",
    );
  });

  it("reads RUNNER_NODE_SELECTOR as a nodeSelector and names a pair that is not one", () => {
    const base = { RUNNER_IMAGE: "keeperhub-runner:0123abcd" };
    expect(
      loadKubernetesConfig({
        ...base,
        RUNNER_NODE_SELECTOR: "kubernetes.io/hostname=kube-node-0, pool=runners",
      }).runnerNodeSelector,
    ).toEqual({ "kubernetes.io/hostname": "kube-node-0", pool: "runners" });
    expect(loadKubernetesConfig(base).runnerNodeSelector).toBeUndefined();
    for (const bad of ["pool", "pool=a=b", "-pool=a", "pool=bad value", "a/b/c=d"]) {
      expect(() => loadKubernetesConfig({ ...base, RUNNER_NODE_SELECTOR: bad }), bad).toThrow(
        /^RUNNER_NODE_SELECTOR has ".*" is not a key=value pair|^RUNNER_NODE_SELECTOR has .* is not a valid Kubernetes label value/,
      );
    }
  });
});
