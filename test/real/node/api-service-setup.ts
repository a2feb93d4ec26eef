import { execFile } from "node:child_process";
import net from "node:net";
import { promisify } from "node:util";
import { ADMIN_KUBECONFIG, KUBECTL, POD_HOST_ADDRESS } from "../engines.js";
import { startRelay } from "./relay.js";

/**
 * The `kubernetes` Service for pods on the real node, as kube-proxy gives it on a real cluster: the tools'
 * node has no kube-proxy, and the API server listens on 127.0.0.1 only, so a pod's in-cluster config
 * (KUBERNETES_SERVICE_HOST = the Service's ClusterIP) reaches nothing. This global set-up listens on the
 * pods' gateway (10.88.0.1) and relays to the API server, and one DNAT rule in a chain of its own sends the
 * ClusterIP's port there. The API server's certificate names the ClusterIP, so pods verify it as they do
 * on minikube. The pods' specs stay the stack's own: only the network under them is provided.
 * Teardown closes the relay and removes the chain; a chain left by a killed run is replaced at the start.
 */

const run = promisify(execFile);

/** The nat chain this set-up owns. */
const CHAIN = "KH-TEST-KUBE-SVC";

const kubectl = async (args: string[]) =>
  (await run(KUBECTL, ["--kubeconfig", ADMIN_KUBECONFIG, ...args], { timeout: 20_000 })).stdout.trim();

const iptables = (args: string[]) => run("iptables", ["-w", "5", "-t", "nat", ...args], { timeout: 20_000 });

/** Where the `kubernetes` Service points (ClusterIP:port) and where the API server really listens. */
async function apiAddresses(): Promise<{ clusterIp: string; port: string; server: URL }> {
  const [clusterIp = "", port = ""] = (
    await kubectl([
      "-n",
      "default",
      "get",
      "service",
      "kubernetes",
      "-o",
      "jsonpath={.spec.clusterIP} {.spec.ports[0].port}",
    ])
  ).split(" ");
  const server = new URL(
    await kubectl(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]),
  );
  if (!net.isIP(clusterIp) || !port)
    throw new Error(`the kubernetes Service has no ClusterIP (${clusterIp}:${port})`);
  return { clusterIp, port, server };
}

/** Removes the chain and its jump from PREROUTING; nothing there is fine. */
async function removeChain(): Promise<void> {
  await iptables(["-D", "PREROUTING", "-j", CHAIN]).catch(() => {});
  await iptables(["-F", CHAIN]).catch(() => {});
  await iptables(["-X", CHAIN]).catch(() => {});
}

/** Routes the kubernetes Service to the API server for the node's pods; resolves the undo. */
export async function routeKubernetesServiceToPods(): Promise<() => Promise<void>> {
  const { clusterIp, port, server } = await apiAddresses();
  const relay = await startRelay(POD_HOST_ADDRESS, { host: server.hostname, port: Number(server.port) });
  await removeChain();
  try {
    await iptables(["-N", CHAIN]);
    const to = `${POD_HOST_ADDRESS}:${relay.port}`;
    await iptables([
      "-A",
      CHAIN,
      "-d",
      `${clusterIp}/32`,
      "-p",
      "tcp",
      "--dport",
      port,
      "-j",
      "DNAT",
      "--to-destination",
      to,
    ]);
    await iptables(["-I", "PREROUTING", "-j", CHAIN]);
  } catch (error) {
    await relay.close();
    await removeChain();
    throw new Error(
      `cannot route the kubernetes Service to the API server for the node's pods: ${(error as Error).message}`,
    );
  }
  return async () => {
    await removeChain();
    await relay.close();
  };
}

/** As a vitest global set-up: for the whole run, undone at its end. */
export const setup = routeKubernetesServiceToPods;
