import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER, HOST_ALIAS, STACK_LABEL } from "../services/contracts/names.js";
import { childOf } from "./component.js";

/** The database and its owner inside the Postgres container. */
export const DB_NAME = "keeperhub";
export const DB_USER = "keeperhub";
/** Ports inside the containers (the host ports are configurable). */
export const POSTGRES_INTERNAL_PORT = 5432;
export const LOCALSTACK_INTERNAL_PORT = 4566;
/** LocalStack accepts any credentials; the SDK needs some. Not secrets. */
export const LOCALSTACK_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;

/** A postgres:// URL for the stack's database at host:port. The password makes it a secret. */
export function databaseUrl(
  host: string,
  port: number,
  password: pulumi.Input<string>,
): pulumi.Output<string> {
  return pulumi.secret(pulumi.interpolate`postgres://${DB_USER}:${password}@${host}:${port}/${DB_NAME}`);
}

/** Labels every container of the stack carries, so `khctl doctor` and `khctl status` can tell stacks apart. */
export function stackLabels(stack: string): { label: string; value: string }[] {
  return [{ label: STACK_LABEL, value: stack }];
}

export function postgresHealthcheck(): docker.types.input.ContainerHealthcheck {
  return {
    tests: ["CMD-SHELL", `pg_isready -h 127.0.0.1 -U ${DB_USER} -d ${DB_NAME}`],
    interval: "2s",
    timeout: "3s",
    retries: 30,
    startPeriod: "5s",
  };
}

export function localstackHealthcheck(): docker.types.input.ContainerHealthcheck {
  // Healthy only once SQS itself is up, not just the gateway.
  return {
    tests: [
      "CMD-SHELL",
      `curl -fsS http://127.0.0.1:${LOCALSTACK_INTERNAL_PORT}/_localstack/health | grep -Eq '"sqs": *"(available|running)"'`,
    ],
    interval: "3s",
    timeout: "5s",
    retries: 40,
    startPeriod: "10s",
  };
}

/**
 * LocalStack's environment: SQS only, and queue URLs of the form http://host.minikube.internal:<port>/<account>/<queue>
 * (path strategy), so the same URL works from the host (with the /etc/hosts line) and from minikube pods.
 */
export function localstackEnv(hostPort: number): string[] {
  return [
    "SERVICES=sqs",
    "EAGER_SERVICE_LOADING=1",
    `LOCALSTACK_HOST=${HOST_ALIAS}:${hostPort}`,
    "SQS_ENDPOINT_STRATEGY=path",
  ];
}

export interface ContainersArgs {
  /** Stack name, put on every container as the `io.keeperhub.stack` label. */
  readonly stack: string;
  /** Pinned images for Postgres and LocalStack. */
  readonly images: { readonly postgres: string; readonly localstack: string };
  /** Host ports to publish. */
  readonly ports: { readonly postgres: number; readonly localstack: number };
  /** Postgres password (a secret). */
  readonly dbPassword: pulumi.Input<string>;
}

/**
 * The Docker side both stacks share: network `keeperhub-network`, volumes, Postgres and LocalStack.
 * Both containers have health checks and are created with `wait: true`, so a resource that depends on
 * them starts only once they are healthy.
 */
export class Containers extends pulumi.ComponentResource {
  readonly network: docker.Network;
  readonly postgres: docker.Container;
  readonly localstack: docker.Container;
  /** Database URL from the host (migrations, khctl on the host). Secret. */
  readonly hostDatabaseUrl: pulumi.Output<string>;
  /** Database URL from containers on the network. Secret. */
  readonly networkDatabaseUrl: pulumi.Output<string>;
  /** Database URL from minikube pods. Secret. */
  readonly clusterDatabaseUrl: pulumi.Output<string>;
  /** SQS endpoint from the host, from the network and from pods. */
  readonly endpoints: { readonly host: string; readonly network: string; readonly cluster: string };

  constructor(name: string, args: ContainersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Containers", name, {}, opts);
    const labels = stackLabels(args.stack);
    this.network = new docker.Network(
      `${name}-network`,
      { name: DOCKER.network, labels },
      childOf(this, opts),
    );
    const postgresVolume = new docker.Volume(
      `${name}-postgres-data`,
      { name: DOCKER.postgresVolume, labels },
      childOf(this, opts),
    );
    const localstackVolume = new docker.Volume(
      `${name}-localstack-data`,
      { name: DOCKER.localstackVolume, labels },
      childOf(this, opts),
    );
    // keepLocally: destroy removes what we made, not the pulled base images (they are a cache).
    const postgresImage = new docker.RemoteImage(
      `${name}-postgres-image`,
      { name: args.images.postgres, keepLocally: true },
      childOf(this, opts),
    );
    const localstackImage = new docker.RemoteImage(
      `${name}-localstack-image`,
      { name: args.images.localstack, keepLocally: true },
      childOf(this, opts),
    );

    this.postgres = new docker.Container(
      `${name}-postgres`,
      {
        name: DOCKER.postgres,
        image: postgresImage.imageId,
        restart: "unless-stopped",
        envs: [
          `POSTGRES_USER=${DB_USER}`,
          `POSTGRES_DB=${DB_NAME}`,
          pulumi.secret(pulumi.interpolate`POSTGRES_PASSWORD=${args.dbPassword}`),
        ],
        ports: [{ internal: POSTGRES_INTERNAL_PORT, external: args.ports.postgres }],
        volumes: [{ volumeName: postgresVolume.name, containerPath: "/var/lib/postgresql/data" }],
        networksAdvanced: [{ name: this.network.name, aliases: [DOCKER.postgres] }],
        healthcheck: postgresHealthcheck(),
        labels,
        wait: true,
        waitTimeout: 120,
      },
      childOf(this, opts),
    );

    this.localstack = new docker.Container(
      `${name}-localstack`,
      {
        name: DOCKER.localstack,
        image: localstackImage.imageId,
        restart: "unless-stopped",
        envs: localstackEnv(args.ports.localstack),
        ports: [{ internal: LOCALSTACK_INTERNAL_PORT, external: args.ports.localstack }],
        volumes: [{ volumeName: localstackVolume.name, containerPath: "/var/lib/localstack" }],
        networksAdvanced: [{ name: this.network.name, aliases: [DOCKER.localstack] }],
        healthcheck: localstackHealthcheck(),
        labels,
        wait: true,
        waitTimeout: 180,
      },
      childOf(this, opts),
    );

    this.hostDatabaseUrl = databaseUrl("localhost", args.ports.postgres, args.dbPassword);
    this.networkDatabaseUrl = databaseUrl(DOCKER.postgres, POSTGRES_INTERNAL_PORT, args.dbPassword);
    this.clusterDatabaseUrl = databaseUrl(HOST_ALIAS, args.ports.postgres, args.dbPassword);
    this.endpoints = {
      host: `http://localhost:${args.ports.localstack}`,
      network: `http://${DOCKER.localstack}:${LOCALSTACK_INTERNAL_PORT}`,
      cluster: `http://${HOST_ALIAS}:${args.ports.localstack}`,
    };
    this.registerOutputs({
      network: this.network.name,
      postgres: this.postgres.name,
      localstack: this.localstack.name,
      hostDatabaseUrl: this.hostDatabaseUrl,
    });
  }
}
