import type https from "node:https";
import {
  type Cluster,
  type Configuration,
  createConfiguration,
  type DispatcherOptions,
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

/** The KubeConfig's dispatcher factory: private in client-node's types, a method on every instance. */
type DispatcherFactory = {
  createDispatcher(cluster: Cluster | null, agentOptions: https.AgentOptions): Dispatcher | undefined;
};

/** A dispatcher, as far as keeping one is concerned (undici's Dispatcher, which client-node does not re-export). */
interface Dispatcher {
  close(): Promise<void>;
}

type ConnectOptions = Extract<DispatcherOptions, { type: "agent" }>["connect"];

const sameOption = (a: unknown, b: unknown): boolean =>
  Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;

const sameConnection = (a: ConnectOptions, b: ConnectOptions): boolean => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ConnectOptions>;
  return [...keys].every((key) => sameOption(a[key], b[key]));
};

/**
 * The KubeConfig's authentication, with connections kept alive. client-node 2 sends every request with
 * undici's fetch, and for a cluster with TLS material (a CA, a client certificate, a server name) it makes a
 * new undici Agent, so a new connection pool, for each request: every request opened a connection of its
 * own and paid a TLS handshake, most of a Job create's cost after the server's own time (1.4 did the same
 * with node's Agents, kubernetes-client/javascript#2893). Here the KubeConfig still sets each request's
 * headers and reads its TLS material (a rotated token or certificate applies as before); the dispatcher it
 * makes for that material is kept and given to every request with the same material, and made again when
 * it changes (the old one closes once its requests in flight are done). A plain-HTTP cluster already
 * shares undici's global dispatcher, and a proxy's dispatcher is left as the client makes it.
 */
export function keptAliveAuthentication(kc: KubeConfig): SecurityAuthentication {
  let authentication = keptAlive.get(kc);
  if (!authentication) {
    keepDispatchers(kc);
    authentication = {
      getName: () => `${kc.getName()}, connections kept alive`,
      applySecurityAuthentication: (context: RequestContext) => kc.applySecurityAuthentication(context),
    };
    keptAlive.set(kc, authentication);
  }
  return authentication;
}

/** One authentication per KubeConfig, so its dispatcher factory is wrapped once. */
const keptAlive = new WeakMap<KubeConfig, SecurityAuthentication>();

/** Makes the KubeConfig's dispatcher factory give back its last dispatcher while the TLS material is the same. */
function keepDispatchers(kc: KubeConfig): void {
  const factory = kc as unknown as DispatcherFactory;
  if (typeof factory.createDispatcher !== "function") {
    throw new Error("@kubernetes/client-node has no KubeConfig.createDispatcher: update core/kube-config.ts");
  }
  const makeDispatcher = factory.createDispatcher.bind(kc);
  let kept: { dispatcher: Dispatcher; connect: ConnectOptions } | undefined;
  factory.createDispatcher = (cluster, agentOptions) => {
    const plan = kc.createDispatcherOptions(cluster, agentOptions);
    if (plan.type !== "agent") return makeDispatcher(cluster, agentOptions);
    if (!kept || !sameConnection(kept.connect, plan.connect)) {
      void kept?.dispatcher.close();
      const dispatcher = makeDispatcher(cluster, agentOptions);
      if (!dispatcher) return undefined;
      kept = { dispatcher, connect: plan.connect };
    }
    return kept.dispatcher;
  };
}
