import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

/**
 * The real engines of this tier, from ../shared/tools (its README says what each gives and cannot do):
 * - Kubernetes: `kube/build.sh` then `KWOK_POD_MODE=bridge kube/up.sh` (a kube-apiserver on 127.0.0.1:16443
 *   with RBAC and PodSecurity, the Job, TTL and garbage-collector controllers, a scheduler, and kwok as a
 *   fake kubelet); its admin kubeconfig is $KUBE_TOOLS_DIR/kubeconfig.
 * - Docker: `docker/setup.sh` (a real dockerd on /var/run/docker.sock, and stand-ins for the images the
 *   stacks name; NODE_VERSIONS must include the services' Node).
 * .ci/run starts both and stops them at the end. A missing engine fails the tier with the reason and the
 * command that starts it; nothing is skipped.
 */

const run = promisify(execFile);

/** ../shared/tools beside the checkout, or KH_TOOLS_DIR. */
export const TOOLS_DIR =
  process.env.KH_TOOLS_DIR ?? path.resolve(import.meta.dirname, "..", "..", "..", "shared", "tools");

const cacheDir = () => process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache");

export const KUBE_TOOLS_DIR = process.env.KUBE_TOOLS_DIR ?? path.join(cacheDir(), "keeperhub-tools", "kube");
/** The control plane's admin kubeconfig (system:masters). */
export const ADMIN_KUBECONFIG = path.join(KUBE_TOOLS_DIR, "kubeconfig");
/** kubectl of the same version as the apiserver. */
export const KUBECTL = path.join(KUBE_TOOLS_DIR, "bin", "kubectl");
/** Debian's docker CLI (20.10): builds with the daemon's BuildKit, which the 28.x CLI cannot without buildx. */
export const DOCKER = existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

export class EngineMissingError extends Error {
  override name = "EngineMissingError";
}

/** Resolves when the control plane answers /readyz with the admin kubeconfig; else says how to start it. */
export async function checkKubernetes(): Promise<void> {
  const start = `bash ${TOOLS_DIR}/kube/build.sh && KWOK_POD_MODE=bridge bash ${TOOLS_DIR}/kube/up.sh`;
  if (!existsSync(ADMIN_KUBECONFIG) || !existsSync(KUBECTL)) {
    throw new EngineMissingError(
      `Kubernetes: no control plane in ${KUBE_TOOLS_DIR}; start one with: ${start}`,
    );
  }
  try {
    await run(KUBECTL, ["--kubeconfig", ADMIN_KUBECONFIG, "get", "--raw", "/readyz"], { timeout: 20_000 });
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr || (error as Error).message)
      .trim()
      .split("\n")[0];
    throw new EngineMissingError(
      `Kubernetes: the control plane does not answer (${reason}); start it with: ${start}`,
    );
  }
}

/** Resolves when dockerd answers; else says how to start it. */
export async function checkDocker(): Promise<void> {
  try {
    await run(DOCKER, ["version", "--format", "{{.Server.Version}}"], { timeout: 20_000 });
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr || (error as Error).message)
      .trim()
      .split("\n")[0];
    throw new EngineMissingError(
      `Docker: the engine does not answer (${reason}); start it with: NODE_VERSIONS=<the services' Node> bash ${TOOLS_DIR}/docker/setup.sh`,
    );
  }
}

/** Pods on the real node reach this machine at the node bridge's gateway (their status.hostIP). */
export const POD_HOST_ADDRESS = "10.88.0.1";

/** The tools' real worker node (kube/node.sh), by its name there. */
export const KUBE_NODE_NAME = "kube-node-0";

/** Resolves when the real worker node is Ready; else says how to start it. */
export async function checkKubeNode(): Promise<void> {
  const start = `bash ${TOOLS_DIR}/kube/node.sh up`;
  let ready = "";
  try {
    const jsonpath = '{.status.conditions[?(@.type=="Ready")].status}';
    ({ stdout: ready } = await run(
      KUBECTL,
      ["--kubeconfig", ADMIN_KUBECONFIG, "get", "node", KUBE_NODE_NAME, "-o", `jsonpath=${jsonpath}`],
      { timeout: 20_000 },
    ));
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr || (error as Error).message)
      .trim()
      .split("\n")[0];
    throw new EngineMissingError(
      `Kubernetes node: ${KUBE_NODE_NAME} is not there (${reason}); start it with: ${start}`,
    );
  }
  if (ready.trim() !== "True") {
    throw new EngineMissingError(`Kubernetes node: ${KUBE_NODE_NAME} is not Ready; start it with: ${start}`);
  }
}

/** Debian's docker-registry (distribution 2.8): each file of test/real/registry starts its own. */
export const DOCKER_REGISTRY = "/usr/bin/docker-registry";

/** Resolves when the registry binary is installed; else says how to install it. */
export async function checkRegistry(): Promise<void> {
  if (!existsSync(DOCKER_REGISTRY)) {
    throw new EngineMissingError(
      `Image registry: ${DOCKER_REGISTRY} is not installed; install it with: apt-get install docker-registry`,
    );
  }
}
