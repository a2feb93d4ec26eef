import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { type ImageKind, imageName, type RegistryPush } from "../../../infra/images.js";
import { freePort } from "../../../services/embedded/postgres.js";
import { afterFile } from "../../helpers/after-file.js";
import { createTempDir } from "../../helpers/temp.js";
import { until } from "../../helpers/wait.js";
import { docker } from "../docker/docker.js";
import { DOCKER_REGISTRY } from "../engines.js";

/**
 * A real image registry of the file's own: Debian's docker-registry (distribution 2.8) serving on
 * 127.0.0.1 with its storage in a temporary directory, stopped and removed when the file ends. Docker pushes
 * to it without TLS (loopback registries are trusted), and the node's containerd pulls from it over plain
 * HTTP (containerd takes http for a loopback host; the node runs on this machine, so 127.0.0.1 is the same
 * registry for it).
 */
export interface TestRegistry {
  /** `127.0.0.1:<port>`: the host part of every reference in it. */
  readonly host: string;
  /** The cluster stack's `registry` setting for it: `<host>/keeperhub`. */
  readonly push: RegistryPush;
  /** What the registry has sent and received: bytes of blobs, from its access log. */
  blobUploads(): number;
}

/** The registry's config: loopback only, its storage under `dir`, deletes allowed, an access log on stderr. */
function registryConfig(dir: string, port: number): string {
  return [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${path.join(dir, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "",
  ].join("\n");
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/** Starts the file's registry; resolves once `/v2/` answers. */
export async function startTestRegistry(): Promise<TestRegistry> {
  const dir = await createTempDir("kh-registry");
  const port = await freePort();
  const config = path.join(dir, "config.yml");
  await writeFile(config, registryConfig(dir, port));
  const child = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  // Its own log on stderr, the access log (one line per request) on stdout.
  let log = "";
  const keep = (chunk: Buffer) => {
    log = (log + chunk).slice(-1_000_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  afterFile(() => stop(child));
  const host = `127.0.0.1:${port}`;
  await until(`the registry on ${host}`, async () => {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log.trim()}`);
    const answer = await fetch(`http://${host}/v2/`).catch(() => undefined);
    return answer?.status === 200;
  });
  return {
    host,
    push: { repository: `${host}/keeperhub`, server: host },
    blobUploads: () => (log.match(/"PUT \/v2\/[^"]*\/blobs\/uploads\//g) ?? []).length,
  };
}

/**
 * Pushes a locally built image as the cluster stack does (infra/images.ts: named `imageName` under the
 * registry, pushed by the docker provider; here by Docker's CLI) and resolves the `repo@sha256:…` the
 * push returned: what the stack's pod specs name.
 */
export async function pushImage(
  registry: TestRegistry,
  kind: ImageKind,
  localRef: string,
  tag: string,
): Promise<string> {
  const name = imageName(kind, tag, registry.push);
  await docker(["tag", localRef, name]);
  const { stdout } = await docker(["push", name], { timeoutMs: 300_000 });
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
  if (!digest) throw new Error(`docker push ${name} printed no digest:\n${stdout}`);
  return `${name.slice(0, name.lastIndexOf(":"))}@${digest}`;
}
