import { lookup } from "node:dns/promises";
import { symlink } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HOSTS_LINE, STACK_LABEL } from "../../services/contracts/names.js";
import {
  type ContainerInfo,
  type DoctorProbes,
  failedRequired,
  localstackNeedsToken,
  parseDockerPs,
  parseReachTarget,
  renderDoctor,
  runDoctor,
  runReachChecks,
  systemProbes,
} from "../../services/doctor/index.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTempDir } from "../helpers/temp.js";

function container(name: string, hostPorts: number[], stack?: string): ContainerInfo {
  return {
    name,
    image: "x:1",
    state: "running",
    status: "Up 1 minute (healthy)",
    health: "healthy",
    labels: stack ? { [STACK_LABEL]: stack } : {},
    hostPorts,
    ports: "",
  };
}

/** A machine where everything is in order, with overrides. */
function probes(overrides: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    dockerVersion: async () => "27.3.1",
    minikubeVersion: async () => "v1.36.0",
    resolve: async () => ["127.0.0.1"],
    containers: async () => [],
    portInUse: async () => false,
    connect: async () => {},
    ...overrides,
  };
}
const ports = { postgres: 5433, localstack: 4566 };

describe("khctl doctor checks", () => {
  it("passes on a ready machine, with the minikube checks only for the minikube profile", async () => {
    const hybrid = await runDoctor({ profile: "minikube", stack: "hybrid", ports }, probes());
    expect(hybrid.map((r) => r.name)).toEqual(["docker", "minikube", "hosts", "port:5433", "port:4566"]);
    expect(failedRequired(hybrid)).toEqual([]);
    const local = await runDoctor({ profile: "dev", stack: "local", ports }, probes());
    expect(local.map((r) => r.name)).toEqual(["docker", "port:5433", "port:4566"]);
  });

  it("fails on the other stack's containers holding the ports, and says how to switch", async () => {
    const results = await runDoctor(
      { profile: "minikube", stack: "hybrid", ports },
      probes({
        containers: async () => [
          container("keeperhub-db", [5433], "local"),
          container("keeperhub-localstack", [4566], "hybrid"),
        ],
        portInUse: async () => true,
      }),
    );
    const postgres = results.find((r) => r.name === "port:5433");
    expect(postgres).toMatchObject({
      ok: false,
      message: "port 5433 (postgres) is held by keeperhub-db of stack local",
      fix: "switch stacks cleanly: pulumi destroy -s local",
    });
    // The stack's own container is fine: a second `pulumi up` finds it there.
    expect(results.find((r) => r.name === "port:4566")).toMatchObject({ ok: true });
    expect(failedRequired(results)).toEqual(["port:5433"]);
  });

  it("names a foreign container or program that holds a port", async () => {
    const results = await runDoctor(
      { profile: "dev", stack: "local", ports },
      probes({
        containers: async () => [container("my-postgres", [5433])],
        portInUse: async (p) => p === 4566,
      }),
    );
    expect(results.find((r) => r.name === "port:5433")?.fix).toMatch(
      /^docker stop my-postgres, or pick another port: pulumi config set keeperhub:postgresPort/,
    );
    expect(results.find((r) => r.name === "port:4566")).toMatchObject({
      ok: false,
      message: "port 4566 (localstack) is in use by another program",
      fix: expect.stringContaining("sudo lsof -i :4566"),
    });
  });

  it("only hints when host.minikube.internal points away from this machine or does not resolve", async () => {
    for (const resolve of [async () => ["192.168.49.1"], () => Promise.reject(new Error("ENOTFOUND"))]) {
      const results = await runDoctor({ profile: "minikube", stack: "hybrid", ports }, probes({ resolve }));
      expect(results.find((r) => r.name === "hosts")).toMatchObject({
        ok: false,
        required: false,
        fix: expect.stringContaining(HOSTS_LINE),
      });
      expect(failedRequired(results)).toEqual([]);
      expect(renderDoctor(results)).toMatch(
        /^warn hosts +host\.minikube\.internal .*AWS CLI without --endpoint-url/m,
      );
    }
  });

  it("renders one line per check and the fix under each failure", async () => {
    const results = await runDoctor(
      { profile: "minikube", stack: "hybrid", ports },
      probes({
        minikubeVersion: async () =>
          Promise.reject(new Error("minikube is not installed (not found on PATH)")),
      }),
    );
    const text = renderDoctor(results);
    expect(text).toMatch(/^FAIL minikube +minikube is not usable: minikube is not installed/m);
    expect(text).toMatch(/^ +fix: install minikube: https:\/\/minikube\.sigs\.k8s\.io\/docs\/start\/$/m);
    expect(text).toMatch(/^ok {3}docker +Docker is reachable \(server 27\.3\.1\)$/m);
  });
});

describe("khctl doctor --reach", () => {
  it("parses name=host:port and rejects anything else", () => {
    expect(parseReachTarget("postgres=host.minikube.internal:5433")).toEqual({
      name: "postgres",
      host: "host.minikube.internal",
      port: 5433,
    });
    for (const bad of ["postgres", "postgres=host", "=h:1", "p=h:0", "p=h:70000", "p=h: 1"]) {
      expect(parseReachTarget(bad), bad).toBeUndefined();
    }
  });

  it("names the address that does not answer, with the fix for host.minikube.internal", async () => {
    const results = await runReachChecks(
      [
        { name: "postgres", host: "host.minikube.internal", port: 5433 },
        { name: "localstack", host: "host.minikube.internal", port: 4566 },
      ],
      probes({
        connect: async (_host, port) =>
          port === 5433 ? Promise.reject(new Error("ECONNREFUSED")) : undefined,
      }),
    );
    expect(results[0]).toMatchObject({
      name: "reach:postgres",
      ok: false,
      message: "host.minikube.internal:5433 (postgres) does not answer: ECONNREFUSED",
      fix: expect.stringContaining("minikube ssh -- nc -zv host.minikube.internal 5433"),
    });
    expect(results[1]).toMatchObject({ name: "reach:localstack", ok: true });
    expect(failedRequired(results)).toEqual(["reach:postgres"]);
  });

  it("runs as a process against real sockets: one that listens answers, a closed one fails with exit 1", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const open = (server.address() as net.AddressInfo).port;
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      const result = await spawnCli(
        ["doctor", "--reach", `db=127.0.0.1:${open}`, "--reach", `sqs=127.0.0.1:${closedPort}`, "--json"],
        {},
      ).result;
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { checks: { name: string; ok: boolean }[] };
      expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
        ["reach:db", true],
        ["reach:sqs", false],
      ]);
      expect(result.stderr).toMatch(/1 required check\(s\) failed: reach:sqs/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const usage = await spawnCli(["doctor", "--reach", "nonsense"], {}).result;
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--reach must be name=host:port (got "nonsense")');
  });
});

describe("the LocalStack image", () => {
  it.each([
    ["localstack/localstack:4.14.0", false],
    ["localstack/localstack:4.4.0", false],
    ["localstack/localstack:4.14", false],
    ["localstack/localstack:4.14.1", true],
    ["localstack/localstack:4.15", true],
    ["localstack/localstack:2026.3.0", true],
    ["registry.example:5000/localstack/localstack:5.0.0-arm64", true],
    ["localstack/localstack@sha256:0123abcd", false],
  ])("%s needs a token: %s", (image, needs) => {
    expect(localstackNeedsToken(image)).toBe(needs);
  });

  it("a newer image without a token is a warning with the fix; with a token, or 4.14.0, it passes", async () => {
    const check = async (image: string, authTokenSet: boolean) =>
      (
        await runDoctor(
          { profile: "dev", stack: "local", ports, localstack: { image, authTokenSet } },
          probes(),
        )
      ).find((r) => r.name === "localstack");
    const warned = await check("localstack/localstack:4.15.0", false);
    expect(warned).toMatchObject({ ok: false, required: false });
    expect(warned?.message).toMatch(
      /needs an auth token: .*after 4\.14\.0.*exit with code 55 without LOCALSTACK_AUTH_TOKEN/,
    );
    expect(warned?.fix).toMatch(
      /pulumi config set --secret keeperhub:localstackAuthToken .*localstack\/localstack:4\.14\.0/,
    );
    expect((await check("localstack/localstack:4.15.0", true))?.ok).toBe(true);
    expect((await check("localstack/localstack:4.14.0", false))?.ok).toBe(true);
  });

  it("as a process: the warning does not fail the doctor, and LOCALSTACK_AUTH_TOKEN in the environment counts", async () => {
    const args = ["doctor", "--reach", "x=127.0.0.1:1"]; // --reach runs only its own checks: see the next one
    expect((await spawnCli(args, {}).result).stdout).not.toContain("localstack");
    const newer = ["doctor", "--localstack-image", "localstack/localstack:4.15.0", "--json"];
    const report = async (env: NodeJS.ProcessEnv) =>
      (
        JSON.parse((await spawnCli(newer, env).result).stdout) as { checks: { name: string; ok: boolean }[] }
      ).checks.find((c) => c.name === "localstack");
    expect((await report({ LOCALSTACK_AUTH_TOKEN: undefined }))?.ok).toBe(false);
    expect((await report({ LOCALSTACK_AUTH_TOKEN: "ls-token" }))?.ok).toBe(true);
  });
});

describe("khctl doctor on this machine", () => {
  it("finds a port that a program listens on, and a free one", async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const system = systemProbes();
    expect(await system.portInUse(port)).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await system.portInUse(port)).toBe(false);
  });

  it("runs as a process: without docker and minikube on PATH it prints each failure with its fix and exits 1", async () => {
    // A PATH holding only node: the docker and minikube CLIs are missing, wherever this runs.
    const bin = await createTempDir("kh-doctor-bin");
    await symlink(process.execPath, path.join(bin, "node"));
    const result = await spawnCli(["doctor", "--profile", "minikube", "--postgres-port", "1"], { PATH: bin })
      .result;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^FAIL docker +Docker is not reachable: docker is not installed \(not found on PATH\)$/m,
    );
    expect(result.stdout).toMatch(/fix: start Docker/);
    expect(result.stdout).toMatch(/^FAIL minikube +minikube is not usable: minikube is not installed/m);
    const hostsResolve = await lookup("host.minikube.internal").then(
      () => true,
      () => false,
    );
    if (!hostsResolve) {
      expect(result.stdout).toContain(
        `fix: add the line to /etc/hosts: echo "${HOSTS_LINE}" | sudo tee -a /etc/hosts`,
      );
    }
    // Port 1 needs root to bind, so as a normal user it reads as taken; as root it is free. Either way one line.
    expect(result.stdout).toMatch(/^(ok|FAIL) +port:1 /m);
    expect(result.stderr).toMatch(/^khctl: \d required check\(s\) failed: docker, minikube/m);
  });

  it("asks for the cluster profile's targets as a usage error (exit 2)", async () => {
    const result = await spawnCli(["doctor", "--profile", "cluster", "--registry", "127.0.0.1:5000/kh"], {})
      .result;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--profile cluster needs --context, --queue-url, --dlq-url");
  });

  it("rejects an unknown profile as a usage error (exit 2)", async () => {
    const result = await spawnCli(["doctor", "--profile", "prod"], {}).result;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--profile must be one of dev, minikube, cluster (got "prod")');
  });
});

describe("docker ps parsing", () => {
  it("reads names, state, health, labels and host ports", () => {
    const line = JSON.stringify({
      Names: "keeperhub-db",
      Image: "postgres:16.9-bookworm",
      State: "running",
      Status: "Up 3 minutes (healthy)",
      Labels: `${STACK_LABEL}=hybrid,com.docker.compose.project=x`,
      Ports: "0.0.0.0:5433->5432/tcp, [::]:5433->5432/tcp",
    });
    const [parsed] = parseDockerPs(`${line}\n`);
    expect(parsed).toEqual({
      name: "keeperhub-db",
      image: "postgres:16.9-bookworm",
      state: "running",
      status: "Up 3 minutes (healthy)",
      health: "healthy",
      labels: { [STACK_LABEL]: "hybrid", "com.docker.compose.project": "x" },
      hostPorts: [5433],
      ports: "0.0.0.0:5433->5432/tcp, [::]:5433->5432/tcp",
    });
    expect(
      parseDockerPs(JSON.stringify({ Names: "x", State: "exited", Status: "Exited (0)", Ports: "" }))[0],
    ).toMatchObject({
      health: undefined,
      hostPorts: [],
    });
  });
});
