import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { stackLabels } from "./containers.js";
import { type DockerServiceSettings, dockerServiceEnv } from "./env.js";

/** The khctl arguments of each worker container (the image's entrypoint is khctl). */
export const WORKER_ARGS = { dispatcher: ["dispatch", "--loop"], executor: ["executor"] } as const;

export interface LocalServicesArgs {
  readonly stack: string;
  /** keeperhub-scheduler:<tag>, built by Images. */
  readonly image: pulumi.Input<string>;
  /** The network name (keeperhub-network). */
  readonly network: pulumi.Input<string>;
  /** Everything the services need; `encryptionKey` goes to the executor only. */
  readonly settings: DockerServiceSettings & { readonly encryptionKey: pulumi.Input<string> };
}

/**
 * The `local` stack's workers, in Docker on the network: the dispatcher (`khctl dispatch --loop`) and
 * the executor (`khctl executor`, runs workflows directly, no isolation). Created after the queue
 * exists and the schema is applied (pass them as dependsOn).
 */
export class LocalServices extends pulumi.ComponentResource {
  readonly dispatcher: docker.Container;
  readonly executor: docker.Container;

  constructor(name: string, args: LocalServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:LocalServices", name, {}, opts);
    const common = {
      image: args.image,
      restart: "unless-stopped",
      networksAdvanced: [{ name: args.network }],
      labels: stackLabels(args.stack),
      // Let the services finish the message in hand on `pulumi destroy` (SIGTERM, then SIGKILL).
      destroyGraceSeconds: 30,
      stopSignal: "SIGTERM",
    };
    const { encryptionKey, ...withoutKey } = args.settings;
    this.dispatcher = new docker.Container(
      `${name}-dispatcher`,
      {
        ...common,
        name: DOCKER.dispatcher,
        command: [...WORKER_ARGS.dispatcher],
        envs: dockerServiceEnv(withoutKey),
      },
      childOf(this, opts),
    );
    this.executor = new docker.Container(
      `${name}-executor`,
      {
        ...common,
        name: DOCKER.executor,
        command: [...WORKER_ARGS.executor],
        envs: dockerServiceEnv({ ...withoutKey, encryptionKey }),
      },
      childOf(this, opts),
    );
    this.registerOutputs({ dispatcher: this.dispatcher.name, executor: this.executor.name });
  }
}
