import { lookup } from "node:dns/promises";
import net from "node:net";
import {
  DEFAULT_LOCALSTACK_IMAGE,
  DEFAULT_PORTS,
  HOST_ALIAS,
  HOSTS_LINE,
  LAST_FREE_LOCALSTACK_VERSION,
  LOCALSTACK_AUTH_TOKEN_ENV,
  type Profile,
  STACK_LABEL,
} from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import { type ContainerInfo, listContainers } from "./docker.js";
import { type Exec, exec } from "./exec.js";

/** The machine, as the checks see it. Injected so tests can stand in for Docker and minikube. */
export interface DoctorProbes {
  /** Docker server version; rejects when the daemon cannot be reached. */
  dockerVersion(): Promise<string>;
  /** minikube version; rejects when minikube is not installed. */
  minikubeVersion(): Promise<string>;
  /** Addresses a host name resolves to on this machine; rejects when it does not resolve. */
  resolve(host: string): Promise<string[]>;
  /** Every Docker container; rejects when Docker cannot be reached. */
  containers(): Promise<ContainerInfo[]>;
  /** True when something listens on the port on this machine. */
  portInUse(port: number): Promise<boolean>;
  /** Opens (and closes) a TCP connection; rejects with why it failed, or after timeoutMs. */
  connect(host: string, port: number, timeoutMs: number): Promise<void>;
}

/** Probes of the real machine, through the docker and minikube CLIs, DNS and a test bind. */
export function systemProbes(run: Exec = exec): DoctorProbes {
  return {
    dockerVersion: async () => (await run("docker", ["version", "--format", "{{.Server.Version}}"])).trim(),
    minikubeVersion: async () => (await run("minikube", ["version", "--short"])).trim(),
    resolve: async (host) => (await lookup(host, { all: true })).map((a) => a.address),
    containers: () => listContainers(run),
    portInUse: (port) =>
      new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "EADDRINUSE"));
        server.listen(port, "0.0.0.0", () => server.close(() => resolve(false)));
      }),
    connect: (host, port, timeoutMs) =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host, port, timeout: timeoutMs });
        socket.once("connect", () => socket.end(() => resolve()));
        socket.once("timeout", () => {
          socket.destroy();
          reject(new Error(`no answer within ${timeoutMs / 1000} s`));
        });
        socket.once("error", (error: NodeJS.ErrnoException) =>
          reject(new Error(error.code ?? error.message)),
        );
      }),
  };
}

export interface CheckResult {
  /** Short id: docker, minikube, hosts, port:5433. */
  readonly name: string;
  readonly ok: boolean;
  /** A failed required check makes `khctl doctor` exit 1 (and stops `pulumi up`). */
  readonly required: boolean;
  /** One line: what was found. */
  readonly message: string;
  /** How to fix it, when it failed. */
  readonly fix?: string;
}

export interface DoctorOptions {
  readonly profile: Profile;
  /** The stack being brought up: containers labelled with it may hold the ports. */
  readonly stack: string;
  /** Ports the stack will publish, by what they are for. */
  readonly ports: Readonly<Record<string, number>>;
  /** The LocalStack image the stack runs, and whether a LOCALSTACK_AUTH_TOKEN is configured for it. */
  readonly localstack?: { readonly image: string; readonly authTokenSet: boolean };
}

export const DEFAULT_DOCTOR_PORTS: Readonly<Record<string, number>> = {
  postgres: DEFAULT_PORTS.postgres,
  localstack: DEFAULT_PORTS.localstack,
};

async function checkDocker(probes: DoctorProbes): Promise<CheckResult> {
  try {
    return {
      name: "docker",
      ok: true,
      required: true,
      message: `Docker is reachable (server ${await probes.dockerVersion()})`,
    };
  } catch (error) {
    return {
      name: "docker",
      ok: false,
      required: true,
      message: `Docker is not reachable: ${errorMessage(error)}`,
      fix: "start Docker (Docker Desktop, or `sudo systemctl start docker`) and check that `docker info` works without sudo",
    };
  }
}

async function checkMinikube(probes: DoctorProbes): Promise<CheckResult> {
  try {
    return {
      name: "minikube",
      ok: true,
      required: true,
      message: `minikube ${await probes.minikubeVersion()} is installed`,
    };
  } catch (error) {
    return {
      name: "minikube",
      ok: false,
      required: true,
      message: `minikube is not usable: ${errorMessage(error)}`,
      fix: "install minikube: https://minikube.sigs.k8s.io/docs/start/",
    };
  }
}

/**
 * A hint only: the services send every SQS call to AWS_ENDPOINT_URL (createSqsClient), so queue URLs naming
 * host.minikube.internal work on the host without it. Tools that send to a queue URL's own host (the AWS CLI
 * without --endpoint-url) still need the alias to resolve here.
 */
async function checkHosts(probes: DoctorProbes): Promise<CheckResult> {
  const hint = (message: string, fix: string): CheckResult => ({
    name: "hosts",
    ok: false,
    required: false,
    message,
    fix,
  });
  const onlyForTools =
    "(needed only by tools that send to a queue URL's host, like the AWS CLI without --endpoint-url)";
  try {
    const addresses = await probes.resolve(HOST_ALIAS);
    const loopback = addresses.some((a) => a === "::1" || a.startsWith("127."));
    return loopback
      ? {
          name: "hosts",
          ok: true,
          required: false,
          message: `${HOST_ALIAS} resolves to ${addresses.join(", ")}`,
        }
      : hint(
          `${HOST_ALIAS} resolves to ${addresses.join(", ")}, not to this machine ${onlyForTools}`,
          `point it at 127.0.0.1 in /etc/hosts: ${HOSTS_LINE}`,
        );
  } catch {
    return hint(
      `${HOST_ALIAS} does not resolve on this machine ${onlyForTools}`,
      `add the line to /etc/hosts: echo "${HOSTS_LINE}" | sudo tee -a /etc/hosts`,
    );
  }
}

async function checkPort(
  what: string,
  port: number,
  stack: string,
  containers: ContainerInfo[] | undefined,
  probes: DoctorProbes,
): Promise<CheckResult> {
  const name = `port:${port}`;
  const holder = containers?.find((c) => c.state === "running" && c.hostPorts.includes(port));
  if (holder) {
    const owner = holder.labels[STACK_LABEL];
    if (owner === stack) {
      return {
        name,
        ok: true,
        required: true,
        message: `port ${port} (${what}) is held by ${holder.name} of this stack`,
      };
    }
    return {
      name,
      ok: false,
      required: true,
      message: owner
        ? `port ${port} (${what}) is held by ${holder.name} of stack ${owner}`
        : `port ${port} (${what}) is held by container ${holder.name}`,
      fix: owner
        ? `switch stacks cleanly: pulumi destroy -s ${owner}`
        : `docker stop ${holder.name}, or pick another port: pulumi config set keeperhub:${what}Port <port>`,
    };
  }
  if (await probes.portInUse(port)) {
    return {
      name,
      ok: false,
      required: true,
      message: `port ${port} (${what}) is in use by another program`,
      fix: `find it with \`sudo lsof -i :${port}\` and stop it, or pick another port: pulumi config set keeperhub:${what}Port <port>`,
    };
  }
  return { name, ok: true, required: true, message: `port ${port} (${what}) is free` };
}

/** The version in a LocalStack image's tag ("localstack/localstack:4.15.1" -> [4, 15, 1]); undefined for a digest or a word. */
export function localstackTagVersion(image: string): number[] | undefined {
  const tag = /:([^:/@]+)$/.exec(image.split("@")[0] ?? "")?.[1];
  const match = tag ? /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(tag) : null;
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

/** Whether `image` is newer than the last LocalStack that runs without an auth token (4.14.0). */
export function localstackNeedsToken(image: string): boolean {
  const version = localstackTagVersion(image);
  if (!version) return false;
  const free = LAST_FREE_LOCALSTACK_VERSION.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((version[i] ?? 0) !== (free[i] ?? 0)) return (version[i] ?? 0) > (free[i] ?? 0);
  }
  return false;
}

/** A warning, not a failure: a token may still be given to the container some other way. */
function checkLocalstackLicense(localstack: { image: string; authTokenSet: boolean }): CheckResult {
  const name = "localstack";
  if (!localstackNeedsToken(localstack.image) || localstack.authTokenSet) {
    const token = localstack.authTokenSet ? ", with an auth token" : "";
    return { name, ok: true, required: false, message: `LocalStack image ${localstack.image}${token}` };
  }
  return {
    name,
    ok: false,
    required: false,
    message:
      `${localstack.image} needs an auth token: LocalStack images after ${LAST_FREE_LOCALSTACK_VERSION} ` +
      `(the last community release) exit with code 55 without ${LOCALSTACK_AUTH_TOKEN_ENV}`,
    fix:
      "pulumi config set --secret keeperhub:localstackAuthToken <your token>, or pin the free one: " +
      `pulumi config set keeperhub:localstackImage ${DEFAULT_LOCALSTACK_IMAGE}`,
  };
}

/** Runs the profile's checks; never throws (every failure is a result). */
export async function runDoctor(options: DoctorOptions, probes: DoctorProbes): Promise<CheckResult[]> {
  const docker = await checkDocker(probes);
  const results: CheckResult[] = [docker];
  if (options.profile === "minikube") {
    results.push(await checkMinikube(probes), await checkHosts(probes));
  }
  // Without Docker the container list is unknown; the bind test still finds a taken port.
  const containers = docker.ok ? await probes.containers().catch(() => undefined) : undefined;
  for (const [what, port] of Object.entries(options.ports)) {
    results.push(await checkPort(what, port, options.stack, containers, probes));
  }
  if (options.localstack) results.push(checkLocalstackLicense(options.localstack));
  return results;
}

/** A host:port that must answer (`khctl doctor --reach name=host:port`). */
export interface ReachTarget {
  /** What it is (postgres, localstack), for the report. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Parses `name=host:port`; undefined when malformed. Pure. */
export function parseReachTarget(raw: string): ReachTarget | undefined {
  const match = /^([\w-]+)=([^\s:]+):(\d{1,5})$/.exec(raw);
  const port = Number(match?.[3]);
  if (!match?.[1] || !match[2] || port < 1 || port > 65_535) return undefined;
  return { name: match[1], host: match[2], port };
}

/** Seconds each `--reach` connection may take. */
export const REACH_TIMEOUT_MS = 5_000;

/**
 * Whether each target answers from where the doctor runs: the Pulumi program runs this inside minikube,
 * in a pod of the stack's namespace, before it rolls out the spawner, so an unreachable Postgres or
 * LocalStack fails the update at once with the address, not minutes later as an unready Deployment.
 */
export async function runReachChecks(
  targets: readonly ReachTarget[],
  probes: Pick<DoctorProbes, "connect">,
  timeoutMs = REACH_TIMEOUT_MS,
): Promise<CheckResult[]> {
  return Promise.all(
    targets.map(async ({ name, host, port }): Promise<CheckResult> => {
      const check = { name: `reach:${name}`, required: true };
      try {
        await probes.connect(host, port, timeoutMs);
        return { ...check, ok: true, message: `${host}:${port} (${name}) answers` };
      } catch (error) {
        return {
          ...check,
          ok: false,
          message: `${host}:${port} (${name}) does not answer: ${errorMessage(error)}`,
          fix:
            host === HOST_ALIAS
              ? `the container must publish port ${port} on all interfaces (\`docker ps\` shows 0.0.0.0:${port}->…) and minikube must resolve ${HOST_ALIAS} to this machine: \`minikube ssh -- nc -zv ${HOST_ALIAS} ${port}\`; \`minikube stop && minikube start\` renews it`
              : `start it, or check the address: \`nc -zv ${host} ${port}\``,
        };
      }
    }),
  );
}

/** The report for people: one line per check, and the fix under each failure. Pure. */
export function renderDoctor(results: readonly CheckResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const mark = result.ok ? "ok  " : result.required ? "FAIL" : "warn";
    lines.push(`${mark} ${result.name.padEnd(10)} ${result.message}`);
    if (!result.ok && result.fix) lines.push(`     ${"".padEnd(10)} fix: ${result.fix}`);
  }
  return lines.join("\n");
}

/** Names of the required checks that failed. */
export const failedRequired = (results: readonly CheckResult[]): string[] =>
  results.filter((r) => r.required && !r.ok).map((r) => r.name);
