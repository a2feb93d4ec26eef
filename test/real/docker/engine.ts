import { spawn } from "node:child_process";
import path from "node:path";
import { DEFAULT_NODE_IMAGE } from "../../../infra/config.js";
import { scaled } from "../../helpers/wait.js";
import { checkDocker, TOOLS_DIR } from "../engines.js";

/**
 * Restarts the Docker engine itself, as a reboot or a Docker upgrade would: the tool's stop.sh (SIGTERM to
 * dockerd, which stops every container with its stop timeout), then setup.sh (starts dockerd again; the
 * images are there, so it builds nothing; NODE_VERSIONS as .ci/run gives it). Each step is bounded.
 */
export async function restartDocker(): Promise<void> {
  await runTool("stop.sh", {}, 120_000);
  // The services' Node, from the image they are built on (node:<version>-bookworm-slim).
  const nodeVersion = /^node:([\d.]+)-/.exec(DEFAULT_NODE_IMAGE)?.[1] ?? "";
  await runTool("setup.sh", { NODE_VERSIONS: nodeVersion }, 300_000);
  await checkDocker();
}

/**
 * Runs ../shared/tools/docker/<script> in a session of its own (dockerd, which setup.sh starts, must not
 * belong to this test process's group); rejects with its last lines when it fails or outlives its deadline.
 */
function runTool(script: string, env: Record<string, string>, timeoutMs: number): Promise<void> {
  const file = path.join(TOOLS_DIR, "docker", script);
  // Not the test run's TMPDIR: dockerd outlives the run, whose temp dir goes at its end, and runc keeps
  // files there (every health check and `docker exec` would fail once it is gone).
  const { TMPDIR: _runTmp, ...inherited } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [file], {
      env: { ...inherited, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const limit = scaled(timeoutMs);
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, limit);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const tail = output.trim().split("\n").slice(-5).join(" / ");
      reject(new Error(`${file} ${signal ? `killed after ${limit}ms` : `exited ${code}`}: ${tail}`));
    });
  });
}
