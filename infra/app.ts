import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { stackLabels } from "./containers.js";
import { type DockerServiceSettings, dockerServiceEnv } from "./env.js";

/** The port the app listens on inside its container. */
export const APP_INTERNAL_PORT = 3000;

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
    this.container = new docker.Container(
      `${name}-app`,
      {
        name: DOCKER.app,
        image: image.imageId,
        restart: "unless-stopped",
        workingDir: "/app",
        command: ["sh", "-c", args.command],
        envs: [...dockerServiceEnv(args.settings), `PORT=${APP_INTERNAL_PORT}`, "HOSTNAME=0.0.0.0"],
        ports: [{ internal: APP_INTERNAL_PORT, external: args.hostPort }],
        volumes: [{ hostPath: args.checkoutPath, containerPath: "/app" }],
        networksAdvanced: [{ name: args.network }],
        labels: stackLabels(args.stack),
      },
      childOf(this, opts),
    );
    this.registerOutputs({ container: this.container.name });
  }
}
