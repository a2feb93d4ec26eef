import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import {
  type Access,
  type ClusterProbes,
  type ClusterTarget,
  checkRegistry,
  clusterStackAccess,
  describeAccess,
  registryApiUrl,
  runClusterChecks,
  systemClusterProbes,
} from "../../services/doctor/cluster-checks.js";
import { afterFile } from "../helpers/after-file.js";

// The cluster profile's preflight: each check over stand-in probes (the parts a unit test has no real
// counterpart for: an API server's reviews, a managed database), and the registry probe against a real
// HTTP server.

const TARGET: ClusterTarget = {
  context: "team",
  namespace: "keeperhub",
  registry: "registry.team.internal:5000/keeperhub",
  databaseUrl: "postgres://kh:pw@db.team.internal:5432/kh",
  queueUrl: "https://sqs.eu-west-1.amazonaws.com/1/keeperhub-workflow-queue",
  dlqUrl: "https://sqs.eu-west-1.amazonaws.com/1/keeperhub-workflow-dlq",
  sqs: { endpoint: undefined, region: "eu-west-1" },
  createQueues: false,
};

/** Probes of a cluster, registry, database and SQS where everything answers and is allowed; override parts. */
function probes(overrides: Partial<ClusterProbes> = {}): ClusterProbes {
  return {
    serverVersion: async () => "v1.33.1",
    allowed: async (_target, access) => access.map(() => true),
    registryStatus: async () => 401,
    databaseVersion: async () => "16.9",
    queueExists: async () => true,
    ...overrides,
  };
}

const byName = async (target: ClusterTarget, p: ClusterProbes) =>
  Object.fromEntries((await runClusterChecks(target, p)).map((check) => [check.name, check]));

describe("the cluster preflight", () => {
  it("passes with one line per check when everything answers", async () => {
    const checks = await byName(TARGET, probes());
    expect(Object.keys(checks)).toEqual(["context", "rbac", "registry", "database", "queue"]);
    for (const check of Object.values(checks))
      expect(check, check.name).toMatchObject({ ok: true, required: true });
    expect(checks.context?.message).toBe("context team: Kubernetes v1.33.1");
    expect(checks.database?.message).toBe("db.team.internal:5432/kh: PostgreSQL 16.9");
    // The password is never part of what it prints.
    expect(JSON.stringify(checks)).not.toContain("pw@");
  });

  it("names each denied permission, with the namespace and how to list what the user has", async () => {
    const denied = new Set(["create policy/poddisruptionbudgets", "create namespaces"]);
    const checks = await byName(
      TARGET,
      probes({
        allowed: async (_t, access: readonly Access[]) => access.map((a) => !denied.has(describeAccess(a))),
      }),
    );
    expect(checks.rbac?.ok).toBe(false);
    expect(checks.rbac?.message).toBe(
      "in namespace keeperhub the context's user may not: create namespaces, create policy/poddisruptionbudgets",
    );
    expect(checks.rbac?.fix).toContain("kubectl --context team auth can-i --list -n keeperhub");
  });

  it("asks about namespaces cluster-wide and everything else in the stack's namespace", async () => {
    const asked: Access[] = [];
    await runClusterChecks(
      TARGET,
      probes({
        allowed: async (_t, access) => {
          asked.push(...access);
          return access.map(() => true);
        },
      }),
    );
    expect(asked).toEqual(clusterStackAccess());
    expect(asked.filter((a) => a.cluster).map((a) => a.resource)).toEqual(Array(4).fill("namespaces"));
    expect(new Set(asked.map(describeAccess)).size).toBe(asked.length);
  });

  it("fails each unreachable part on its own line with a fix", async () => {
    const down = (what: string) => async () => {
      throw new Error(`${what} refused`);
    };
    const checks = await byName(
      TARGET,
      probes({
        serverVersion: down("apiserver"),
        allowed: down("review"),
        registryStatus: down("registry"),
        databaseVersion: down("postgres"),
        queueExists: down("sqs"),
      }),
    );
    for (const check of Object.values(checks)) {
      expect(check.ok, check.name).toBe(false);
      expect(check.fix, check.name).toBeTruthy();
    }
    expect(checks.registry?.message).toBe(
      "https://registry.team.internal:5000/v2/ does not answer: registry refused",
    );
    expect(checks.queue?.message).toBe("AWS SQS (eu-west-1) does not answer: sqs refused");
  });

  it("takes missing queues as a failure, unless pulumi up creates them", async () => {
    const missingDlq = probes({ queueExists: async (_t, url) => !url.endsWith("-dlq") });
    const failed = await byName(TARGET, missingDlq);
    expect(failed.queue?.ok).toBe(false);
    expect(failed.queue?.message).toBe(`AWS SQS (eu-west-1): no queue at ${TARGET.dlqUrl}`);
    const created = await byName({ ...TARGET, createQueues: true }, missingDlq);
    expect(created.queue).toMatchObject({
      ok: true,
      message: "AWS SQS (eu-west-1): 1 missing: pulumi up creates them",
    });
  });

  it("fails without a database URL", async () => {
    const checks = await byName({ ...TARGET, databaseUrl: undefined }, probes());
    expect(checks.database).toMatchObject({ ok: false, message: "no database URL (DATABASE_URL)" });
  });

  it("reaches a loopback registry over HTTP and any other over HTTPS", () => {
    expect(registryApiUrl("127.0.0.1:5000/keeperhub")).toBe("http://127.0.0.1:5000/v2/");
    expect(registryApiUrl("localhost:5000")).toBe("http://localhost:5000/v2/");
    expect(registryApiUrl("1.dkr.ecr.eu-west-1.amazonaws.com/kh")).toBe(
      "https://1.dkr.ecr.eu-west-1.amazonaws.com/v2/",
    );
  });
});

describe("the registry probe against a real HTTP server", () => {
  it("takes a registry's 401 as reachable, any other answer or none as not", async () => {
    let status = 401;
    const paths: string[] = [];
    const server = createServer((request, response) => {
      paths.push(request.url ?? "");
      response.writeHead(status).end();
    });
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    afterFile(() => server.listening && new Promise((closed) => server.close(closed)));
    const port = (server.address() as AddressInfo).port;
    const target = { ...TARGET, registry: `127.0.0.1:${port}/keeperhub` };
    const real = systemClusterProbes();

    expect(await checkRegistry(target, real)).toMatchObject({
      ok: true,
      message: `http://127.0.0.1:${port}/v2/ answers 401 (credentials needed: the push gives them)`,
    });
    status = 404;
    expect((await checkRegistry(target, real)).ok).toBe(false);
    expect(paths).toEqual(["/v2/", "/v2/"]);
    await new Promise((closed) => server.close(closed));
    const gone = await checkRegistry(target, real);
    expect(gone.ok).toBe(false);
    // fetch's cause, not its bare "fetch failed" (a refused connection, or the kept-alive socket closing).
    expect(gone.message).toMatch(/does not answer: (ECONNREFUSED|UND_ERR_SOCKET)$/);
  });
});
