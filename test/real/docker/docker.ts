import { execFile } from "node:child_process";
import { newId } from "../../../services/core/ids.js";
import { afterFile } from "../../helpers/after-file.js";
import { scaled, until } from "../../helpers/wait.js";
import { DOCKER } from "../engines.js";

/**
 * The real Docker engine, for the tier's Docker files. A test never touches what it did not create: the
 * stacks' fixed names (keeperhub-db, keeperhub-network, ...) may exist on a developer's machine, so every
 * container, network, volume and image a file makes has a name and tag of its own (`kh-test-<id>-...`) and
 * two labels, and is removed by those labels when the file ends (and by the run's label at the end of the run,
 * test/real/docker/global-setup.ts, should a file not get to its own clean-up).
 */

/** Label on everything the tier makes; its value is the run (TEST_DOCKER_RUN_ENV). */
export const TEST_RUN_LABEL = "io.keeperhub.test-run";
/** Label on everything one test file makes; its value is the file's id. */
export const TEST_FILE_LABEL = "io.keeperhub.test-file";
/** The run's id, set by the global setup (inherited by the test processes). */
export const TEST_DOCKER_RUN_ENV = "KH_TEST_DOCKER_RUN";

export interface DockerResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Fails with the command and Docker's own words. */
export class DockerError extends Error {
  override name = "DockerError";
  constructor(
    readonly args: readonly string[],
    readonly code: number | string | undefined,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`docker ${args.join(" ")} failed (${code}): ${stderr.trim().split("\n").slice(-5).join(" / ")}`);
  }
}

/** Runs the Docker CLI (Debian's, which builds with the daemon's BuildKit). Deadline scaled; default 120 s. */
export function docker(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    execFile(
      DOCKER,
      [...args],
      {
        env: { ...process.env, DOCKER_BUILDKIT: "1", ...options.env },
        timeout: scaled(options.timeoutMs ?? 120_000),
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr });
        reject(new DockerError(args, (error as { code?: number | string }).code, stdout, stderr));
      },
    );
  });
}

/** `docker inspect -f <format> <name>`, trimmed; undefined when it does not exist. */
export async function inspect(name: string, format: string): Promise<string | undefined> {
  try {
    return (await docker(["inspect", "-f", format, name])).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Waits until a container's health check says healthy (it must have one). */
export async function untilHealthy(name: string, timeoutMs = 120_000): Promise<void> {
  await until(
    `${name} healthy`,
    async () => (await inspect(name, "{{.State.Health.Status}}")) === "healthy",
    timeoutMs,
  );
}

export interface TestDocker {
  /** kh-test-<8 characters>: this file's prefix and label value. */
  readonly id: string;
  /** A name of this file's own: `<id>-<what>`. */
  name(what: string): string;
  /** `--label` flags that mark an object as this file's (and this run's). */
  readonly labelArgs: readonly string[];
  /** Removes every container, network, volume and image with this file's label. */
  cleanup(): Promise<void>;
}

/** What the calling file makes in Docker: named apart, labelled, and removed when the file ends. */
export function createTestDocker(): TestDocker {
  const id = `kh-test-${newId().slice(0, 8)}`;
  const run = process.env[TEST_DOCKER_RUN_ENV] ?? id;
  const testDocker: TestDocker = {
    id,
    name: (what) => `${id}-${what}`,
    labelArgs: ["--label", `${TEST_RUN_LABEL}=${run}`, "--label", `${TEST_FILE_LABEL}=${id}`],
    cleanup: () => removeLabelled(`${TEST_FILE_LABEL}=${id}`),
  };
  afterFile(() => testDocker.cleanup(), scaled(180_000));
  return testDocker;
}

/** Removes the containers (with their anonymous volumes), networks, volumes and images carrying `label`. */
export async function removeLabelled(label: string): Promise<void> {
  const list = async (args: string[]) =>
    (await docker([...args, "--filter", `label=${label}`])).stdout.split("\n").filter(Boolean);
  const containers = await list(["ps", "--all", "--quiet"]);
  if (containers.length > 0) await docker(["rm", "--force", "--volumes", ...containers]);
  const networks = await list(["network", "ls", "--quiet"]);
  if (networks.length > 0) await docker(["network", "rm", ...networks]);
  const volumes = await list(["volume", "ls", "--quiet"]);
  if (volumes.length > 0) await docker(["volume", "rm", "--force", ...volumes]);
  // By reference: an image id can carry a tag this file did not make (never removed with it).
  const images = (await list(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])).filter(
    (ref) => !ref.includes("<none>"),
  );
  if (images.length > 0) await docker(["image", "rm", ...images]);
}
