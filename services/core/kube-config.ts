import http from "node:http";
import https from "node:https";
import {
  type Configuration,
  createConfiguration,
  KubeConfig,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
  ServerConfiguration,
} from "@kubernetes/client-node";

/**
 * Connecting to Kubernetes, shared by the spawner, `khctl logs` and `khctl status`: loading a KubeConfig
 * the way kubectl does, and an API client configuration whose requests time out.
 */

export interface KubeConnectionOptions {
  /** A kubeconfig context to use instead of the current one (outside a cluster only). */
  readonly context?: string;
  /** A kubeconfig file; default KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string;
}

/**
 * In a pod (KUBERNETES_SERVICE_HOST set) and with no kubeconfig or context asked for: the in-cluster
 * service account. Otherwise the kubeconfig (KUBECONFIG or ~/.kube/config) and its current context, or
 * `context` when given.
 */
export function loadKubeConfig(
  options: KubeConnectionOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  if (env.KUBERNETES_SERVICE_HOST && !options.context && !options.kubeconfig) {
    kc.loadFromCluster();
    return kc;
  }
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      throw new Error(`kube context "${options.context}" is not in the kubeconfig`);
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error("no Kubernetes cluster configured (no kubeconfig, and not running in a pod)");
  }
  return kc;
}

/**
 * A client configuration for the KubeConfig's current cluster (pass it to `new BatchV1Api(...)` etc.).
 * Every request is aborted after `timeoutMs`, so a hung API server shows up as an error rather than a
 * call that never returns.
 */
export function kubeApiConfiguration(kc: KubeConfig, timeoutMs: number): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster");
  return createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: keptAliveAuthentication(kc) },
    promiseMiddleware: [
      {
        pre: async (context: RequestContext) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return context;
        },
        post: async (context: ResponseContext) => context,
      },
    ],
  });
}

/** The agent options that decide which connection a request may share: the server's and the client's TLS material. */
const CONNECTION_OPTIONS = [
  "ca",
  "cert",
  "key",
  "pfx",
  "passphrase",
  "rejectUnauthorized",
  "servername",
] as const;

type AgentOptions = Partial<Record<(typeof CONNECTION_OPTIONS)[number], unknown>>;

const sameOption = (a: unknown, b: unknown): boolean =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;

/**
 * The KubeConfig's authentication, with connections kept alive. client-node 1.4 gives every request a new
 * Agent (kubernetes-client/javascript#2893), so each request opened a connection of its own, and against a
 * real API server paid a TLS handshake: most of a Job create's cost after the server's own time. The
 * KubeConfig still sets each request's headers and agent options (a rotated token or certificate is read
 * as before); its new plain http/https Agent is swapped for a kept keep-alive one with the same options,
 * made again when those change. A proxy's agent is left as it is.
 */
export function keptAliveAuthentication(kc: KubeConfig): SecurityAuthentication {
  let kept: { agent: http.Agent; options: AgentOptions } | undefined;
  return {
    getName: () => `${kc.getName()}, connections kept alive`,
    async applySecurityAuthentication(context: RequestContext) {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getAgent();
      const Agent = [http.Agent, https.Agent].find((kind) => fresh?.constructor === kind);
      if (!Agent) return;
      // Node keeps an Agent's constructor options as `options`.
      const options = (fresh as http.Agent & { options: AgentOptions }).options;
      const reusable =
        kept?.agent.constructor === Agent &&
        CONNECTION_OPTIONS.every((name) => sameOption(kept?.options[name], options[name]));
      if (!reusable) {
        if (kept) closeIdleConnections(kept.agent);
        kept = { agent: new Agent({ ...options, keepAlive: true }), options };
      }
      context.setAgent((kept as { agent: http.Agent }).agent);
    },
  };
}

/**
 * Closes an agent's idle connections. Those in use finish their request (destroying them would fail it) and
 * are closed by the API server once idle.
 */
function closeIdleConnections(agent: http.Agent): void {
  for (const sockets of Object.values(agent.freeSockets))
    for (const socket of sockets ?? []) socket.destroy();
}
