import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER } from "../services/contracts/names.js";
import { EXECUTOR_SETTINGS } from "../services/contracts/settings.js";
import { SERVICE_UID } from "./cluster/specs.js";
import { childOf } from "./component.js";
import { type ContainerSpec, dockerEnv, dockerUploads, stackLabels, withSecretFiles } from "./containers.js";
import { type ServiceSettings, serviceEnv } from "./env.js";

/** The khctl arguments of each worker container (the image's entrypoint is khctl). */
export const WORKER_ARGS = { dispatcher: ["dispatch", "--loop"], executor: ["executor"] } as const;

/** Seconds a stopping worker has beyond the executor's shutdown timeout: to record the runs it cancels, and exit. */
export const WORKER_STOP_MARGIN_SECONDS = 10;

/**
 * Seconds Docker gives a worker between SIGTERM and SIGKILL (`docker stop`, `docker restart`, Docker itself
 * stopping, `pulumi destroy`): runs in flight get the executor's shutdown timeout to finish, then are
 * cancelled and recorded, so the container needs that plus a margin. Docker's default, 10, would kill them
 * unrecorded.
 */
export const WORKER_STOP_TIMEOUT_SECONDS =
  EXECUTOR_SETTINGS.shutdownTimeoutSeconds.default + WORKER_STOP_MARGIN_SECONDS;

export type WorkerSettings<V> = ServiceSettings<V> & { readonly encryptionKey: V };

/**
 * The `local` stack's workers as containers of the scheduler image: the dispatcher loop and the executor.
 * Only the executor runs workflows, so only it gets the integration key. The database URL and the key are
 * files owned by the image's user (DATABASE_URL_FILE, INTEGRATION_ENCRYPTION_KEY_FILE), never env. Pure.
 */
export function workerSpecs<V>(settings: WorkerSettings<V>): {
  dispatcher: ContainerSpec<V>;
  executor: ContainerSpec<V>;
} {
  const { encryptionKey, ...withoutKey } = settings;
  const worker = {
    restart: "unless-stopped",
    stopSignal: "SIGTERM",
    stopTimeoutSeconds: WORKER_STOP_TIMEOUT_SECONDS,
  } as const;
  return {
    dispatcher: withSecretFiles(
      { ...worker, name: DOCKER.dispatcher, command: WORKER_ARGS.dispatcher, env: serviceEnv<V>(withoutKey) },
      SERVICE_UID,
    ),
    executor: withSecretFiles(
      {
        ...worker,
        name: DOCKER.executor,
        command: WORKER_ARGS.executor,
        env: serviceEnv<V>({ ...withoutKey, encryptionKey }),
      },
      SERVICE_UID,
    ),
  };
}

export interface LocalServicesArgs {
  readonly stack: string;
  /** keeperhub-scheduler:<tag>, built by Images. */
  readonly image: pulumi.Input<string>;
  /** The network name (keeperhub-network). */
  readonly network: pulumi.Input<string>;
  /** Everything the services need; `encryptionKey` goes to the executor only. */
  readonly settings: WorkerSettings<pulumi.Input<string>>;
}

/**
 * The `local` stack's workers, in Docker on the network: the dispatcher (`khctl dispatch --loop`) and
 * the executor (`khctl executor`, runs workflows directly, no isolation), declared from workerSpecs. Created
 * after the queue exists and the schema is applied (pass them as dependsOn).
 */
export class LocalServices extends pulumi.ComponentResource {
  readonly dispatcher: docker.Container;
  readonly executor: docker.Container;

  constructor(name: string, args: LocalServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:LocalServices", name, {}, opts);
    const specs = workerSpecs(args.settings);
    const container = (kind: keyof typeof specs) => {
      const spec = specs[kind];
      return new docker.Container(
        `${name}-${kind}`,
        {
          name: spec.name,
          image: args.image,
          command: spec.command && [...spec.command],
          envs: dockerEnv(spec.env),
          // A changed secret changes an upload, which replaces the container: the new value reaches it.
          uploads: dockerUploads(spec.secretFiles),
          restart: spec.restart,
          networksAdvanced: [{ name: args.network }],
          labels: stackLabels(args.stack),
          stopSignal: spec.stopSignal,
          stopTimeout: spec.stopTimeoutSeconds,
          // `pulumi destroy` stops the container the same way before removing it.
          destroyGraceSeconds: spec.stopTimeoutSeconds,
        },
        childOf(this, opts),
      );
    };
    this.dispatcher = container("dispatcher");
    this.executor = container("executor");
    this.registerOutputs({ dispatcher: this.dispatcher.name, executor: this.executor.name });
  }
}
