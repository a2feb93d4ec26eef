import {
  type Configuration,
  createConfiguration,
  KubeConfig,
  type RequestContext,
  type ResponseContext,
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
    authMethods: { default: kc },
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
