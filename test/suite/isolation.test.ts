import { describe, expect, inject, it } from "vitest";
import { spawnCli } from "../helpers/cli-process.js";
import { isInheritedSetting } from "../helpers/environment.js";

// The suite never uses what the shell exports: .ci/run exports a DATABASE_URL, SQS_QUEUE_URL and PGHOST
// that must not be reached, so these fail there if the isolation (global-setup.ts) breaks.

describe("the test run's isolation from the shell", () => {
  it("counts the services' settings, libpq's and Kubernetes' as inherited; leaves the rest", () => {
    for (const name of ["DATABASE_URL", "SQS_QUEUE_URL", "AWS_ENDPOINT_URL", "KH_DATA_DIR", "PGHOST"]) {
      expect(isInheritedSetting(name), name).toBe(true);
    }
    for (const name of ["KUBECONFIG", "KUBE_CONTEXT", "RUN_TIMEOUT_SECONDS", "EXECUTOR_CONCURRENCY"]) {
      expect(isInheritedSetting(name), name).toBe(true);
    }
    for (const name of ["PATH", "HOME", "TEST_DATABASE_URL", "TEST_TIME_FACTOR", "NODE_OPTIONS"]) {
      expect(isInheritedSetting(name), name).toBe(false);
    }
  });

  it("test files see none of the shell's settings, and no kubeconfig that exists", () => {
    const inherited = Object.keys(process.env).filter(
      (name) => name !== "KUBECONFIG" && name !== "KH_DATA_DIR" && isInheritedSetting(name),
    );
    expect(inherited).toEqual([]);
    expect(process.env.KUBECONFIG).toMatch(/^\/tmp\/kh-test-run-.+\/no-kubeconfig$/);
    // khctl's default data dir is the run's own: no test finds the user's khctl dev of this checkout.
    expect(process.env.KH_DATA_DIR).toMatch(/^\/tmp\/kh-test-run-.+\/kh-data$/);
    // Its own server, unless TEST_DATABASE_URL names one.
    const expected = process.env.TEST_DATABASE_URL ?? /^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/postgres$/;
    expect(inject("postgresAdminUrl")).toMatch(expected);
  });

  it("a khctl the tests start gets no DATABASE_URL unless the test gives it one", async () => {
    const run = await spawnCli(["migrate"], {}).result;
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^khctl: .*DATABASE_URL/);
  });
});
