import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import {
  APP_UID,
  type ContainerSpec,
  dockerEnv,
  dockerUploads,
  readSecretFilesScript,
  stackLabels,
  withSecretFiles,
} from "./containers.js";
import { type DockerServiceSettings, type ServiceSettings, serviceEnv } from "./env.js";

/** The port the app listens on inside its container. */
export const APP_INTERNAL_PORT = 3000;
/** Where the app checkout is mounted. */
export const APP_DIR = "/app";

/**
 * The app-dev container: the services' settings, secrets as files (owned by root, its user). The app knows no
 * `_FILE` twins, so its shell reads the files first (readSecretFilesScript). Pure.
 */
export function appSpec<V>(settings: ServiceSettings<V>, command: string): ContainerSpec<V> {
  const spec = withSecretFiles<V>(
    {
      name: DOCKER.app,
      env: [
        ...serviceEnv<V>(settings),
        { name: "PORT", value: String(APP_INTERNAL_PORT) },
        { name: "HOSTNAME", value: "0.0.0.0" },
      ],
      restart: "unless-stopped",
      port: APP_INTERNAL_PORT,
    },
    APP_UID,
  );
  return { ...spec, command: ["sh", "-c", readSecretFilesScript(spec.secretFiles ?? [], command)] };
}

export interface AppDevArgs {
  readonly stack: string;
  /** Pinned Node image the app runs in. */
  readonly image: string;
  /** Absolute path of the KeeperHub app checkout, mounted at /app. */
  readonly checkoutPath: string;
  /** Shell command that starts the dev server in /app. */
  readonly command: string;
  /** Host port to publish. */
  readonly hostPort: number;
  readonly network: pulumi.Input<string>;
  readonly settings: DockerServiceSettings & { readonly encryptionKey: pulumi.Input<string> };
}

/** The KeeperHub Next.js app in development mode, from a checkout on the host (both stacks, optional). */
export class AppDev extends pulumi.ComponentResource {
  readonly container: docker.Container;

  constructor(name: string, args: AppDevArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:AppDev", name, {}, opts);
    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: args.image, keepLocally: true },
      childOf(this, opts),
    );
    const spec = appSpec<pulumi.Input<string>>(args.settings, args.command);
    this.container = new docker.Container(
      `${name}-app`,
      {
        name: spec.name,
        image: image.imageId,
        restart: spec.restart,
        workingDir: APP_DIR,
        command: spec.command && [...spec.command],
        envs: dockerEnv(spec.env),
        uploads: dockerUploads(spec.secretFiles),
        ports: [{ internal: APP_INTERNAL_PORT, external: args.hostPort }],
        volumes: [{ hostPath: args.checkoutPath, containerPath: APP_DIR }],
        networksAdvanced: [{ name: args.network }],
        labels: stackLabels(args.stack),
      },
      childOf(this, opts),
    );
    this.registerOutputs({ container: this.container.name });
  }
}
