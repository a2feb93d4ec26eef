import path from "node:path";
import { ENV } from "../../services/contracts/names.js";
import { ENV_SETTINGS, REPLACED_SETTINGS } from "../../services/contracts/settings.js";

/**
 * What the test run must not inherit from the shell it starts in: the services' settings (an exported
 * `DATABASE_URL` from `khctl dev`'s banner would point tests at the user's own database), libpq's PG*
 * defaults, and the user's Kubernetes and AWS configuration. Tests pass what they need explicitly.
 */
const SERVICE_NAMES = new Set<string>([
  ...Object.values(ENV),
  ...ENV_SETTINGS.map((setting) => setting.env),
  ...Object.keys(REPLACED_SETTINGS),
  "KUBECONFIG",
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
]);
const SERVICE_PREFIXES = ["AWS_", "KH_", "K8S_", "KUBE_", "SPAWNER_", "DISPATCH_", "EXECUTOR_", "PG"];

/** Where ../shared/tools keeps the engines (KUBE_TOOLS_DIR, DOCKER_TOOLS_DIR): the real tier needs them. */
const TOOL_SETTINGS = /_TOOLS_DIR$/;

export function isInheritedSetting(name: string): boolean {
  if (TOOL_SETTINGS.test(name)) return false;
  return SERVICE_NAMES.has(name) || SERVICE_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * Removes every inherited setting from `env`; points KUBECONFIG at a file in `runDir` that does not exist
 * (so no test reaches the user's cluster through ~/.kube/config), KH_DATA_DIR at a dir of its own in
 * `runDir`, TMPDIR at `runDir`/tmp (so what tests and their processes leave in a temp dir goes when the
 * run's dir does) and NODE_COMPILE_CACHE at `runDir`/compile-cache (khctl's compile cache,
 * cli/compile-cache.ts, goes to the user's ~/.cache otherwise). Returns what it removed.
 */
export function isolateEnvironment(env: NodeJS.ProcessEnv, runDir: string): string[] {
  const removed = Object.keys(env).filter(isInheritedSetting);
  for (const name of removed) delete env[name];
  env.KUBECONFIG = path.join(runDir, "no-kubeconfig");
  // khctl's default data dir: no test finds (or starts on) the user's own khctl dev of this checkout.
  env.KH_DATA_DIR = path.join(runDir, "kh-data");
  env.TMPDIR = path.join(runDir, "tmp");
  env.NODE_COMPILE_CACHE = path.join(runDir, "compile-cache");
  return removed;
}
