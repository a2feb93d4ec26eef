import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { IMAGES } from "../../../services/contracts/names.js";
import { CLI_ENTRY } from "../../helpers/cli-process.js";
import { scaled, within } from "../../helpers/wait.js";
import { ADMIN_KUBECONFIG, KUBE_TOOLS_DIR, KUBECTL, TOOLS_DIR } from "../engines.js";

/**
 * Global setup of the real tier: the kwok bridge (../shared/tools/kube/kwok-bridge.mjs), which runs the
 * command of each runner pod on this machine as a kubelet would run its container: this checkout's built
 * khctl (global setup builds dist/) with the env the pod resolves from its Secret and ConfigMap. Without it
 * a runner pod never ends. One bridge per node: its PID is recorded where the tools' down.sh looks
 * (run/pids/kwok-bridge), a live one there fails the tier, and teardown stops ours and removes its files.
 */

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const PID_FILE = path.join(KUBE_TOOLS_DIR, "run", "pids", "kwok-bridge");

let bridge: ChildProcess | undefined;
let dir: string | undefined;

async function runningBridge(): Promise<number | undefined> {
  if (!existsSync(PID_FILE)) return undefined;
  const pid = Number((await readFile(PID_FILE, "utf8")).trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export async function setup(): Promise<void> {
  const other = await runningBridge();
  if (other !== undefined) {
    throw new Error(
      `a kwok bridge is already running (pid ${other}, ${PID_FILE}); only one may serve the node: stop it or wait for its test run`,
    );
  }
  dir = await mkdtemp(path.join(os.tmpdir(), "kh-kwok-bridge-"));
  const log = createWriteStream(path.join(dir, "bridge.log"));
  bridge = spawn(process.execPath, [path.join(TOOLS_DIR, "kube", "kwok-bridge.mjs")], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: ADMIN_KUBECONFIG,
      KUBECTL,
      KUBE_TOOLS_DIR,
      BRIDGE_IMAGE_PREFIX: `${IMAGES.runner}:`,
      BRIDGE_ENTRYPOINT: JSON.stringify([process.execPath, CLI_ENTRY]),
      BRIDGE_WORKDIR: root,
      BRIDGE_LOG_DIR: path.join(dir, "pod-logs"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  bridge.stdout?.pipe(log);
  bridge.stderr?.pipe(log);
  await writeFile(PID_FILE, `${bridge.pid}\n`);
  const started = new Promise<void>((resolve, reject) => {
    bridge?.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("kwok-bridge: node")) resolve();
    });
    bridge?.once("exit", (code) => reject(new Error(`the kwok bridge exited (code ${code}) at start`)));
  });
  try {
    await within(started, 20_000, "the kwok bridge starting");
  } catch (error) {
    // A setup that fails gets no teardown: leave nothing behind.
    await teardown();
    throw error;
  }
}

export async function teardown(): Promise<void> {
  if (bridge && bridge.exitCode === null && bridge.signalCode === null) {
    const exited = once(bridge, "exit");
    // It SIGTERMs the runners it started and exits within about 2 s.
    bridge.kill("SIGTERM");
    const timer = setTimeout(() => bridge?.kill("SIGKILL"), scaled(15_000));
    await exited.finally(() => clearTimeout(timer));
  }
  if (
    bridge?.pid !== undefined &&
    (await readFile(PID_FILE, "utf8").catch(() => "")).trim() === `${bridge.pid}`
  ) {
    await rm(PID_FILE, { force: true });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}
