import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DOCKER, HOST_ALIAS, LOCALSTACK_AUTH_TOKEN_ENV, STACK_LABEL } from "../services/contracts/names.js";
import { fileTwin } from "../services/core/secret-files.js";
import { childOf } from "./component.js";
import { shellQuote } from "./khctl.js";

/** The database and its owner inside the Postgres container. */
export const DB_NAME = "keeperhub";
export const DB_USER = "keeperhub";
/** Ports inside the containers (the host ports are configurable). */
export const POSTGRES_INTERNAL_PORT = 5432;
export const LOCALSTACK_INTERNAL_PORT = 4566;
/** LocalStack accepts any credentials; the SDK needs some. Not secrets. */
export const LOCALSTACK_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" } as const;
/** The account LocalStack puts in queue URLs for those credentials. */
export const LOCALSTACK_ACCOUNT_ID = "000000000000";

/** A postgres:// URL for the stack's database at host:port. Pure; the password is URL-encoded. */
export function postgresUrl(host: string, port: number, password: string): string {
  return `postgres://${DB_USER}:${encodeURIComponent(password)}@${host}:${port}/${DB_NAME}`;
}

/**
 * What a value says while the resource it comes from does not exist yet: a `pulumi up --target` of
 * something else leaves it undefined. Never a throw: the update goes on, and the output names the fix.
 */
export function notCreatedYet(what: string, stack: string): string {
  return `${what} does not exist yet: run \`pulumi up -s ${stack}\``;
}

/** The stack's database URL at host:port, as a secret (it holds the password). */
export function databaseUrl(
  host: string,
  port: number,
  password: pulumi.Input<string>,
  stack: string,
): pulumi.Output<string> {
  return pulumi.secret(
    pulumi
      .output(password)
      .apply((pw) =>
        pw === undefined ? notCreatedYet("the database password", stack) : postgresUrl(host, port, pw),
      ),
  );
}

/** The environment variable that hands the new password to `ALTER ROLE` (never on a command line). */
export const NEW_PASSWORD_ENV = "KEEPERHUB_DB_PASSWORD";

/**
 * Sets the role's password in the running database. Postgres reads POSTGRES_PASSWORD_FILE only when it
 * creates its data directory, so a changed `keeperhub:dbPassword` must be applied with ALTER ROLE. psql
 * runs inside the container over the local socket (trusted there), so the old password is not needed; it
 * reads the new one from the environment (`\getenv`) and quotes it itself (`:'pw'`). Then the container's
 * password file is rewritten (owner and mode kept), so it holds what the database now uses.
 */
export function setPasswordScript(container: string): string {
  const sql = [`\\getenv pw ${NEW_PASSWORD_ENV}`, `ALTER ROLE ${DB_USER} WITH PASSWORD :'pw';`];
  const file = secretFilePath(POSTGRES_PASSWORD_ENV);
  const rewrite = `mkdir -p ${SECRETS_DIR} && (umask 0377 && printf '%s' "$${NEW_PASSWORD_ENV}" > ${file}) && chown ${POSTGRES_UID}:${POSTGRES_UID} ${file}`;
  const exec = `docker exec -i -e ${NEW_PASSWORD_ENV} ${shellQuote(container)}`;
  return [
    `printf '%s\\n' ${sql.map(shellQuote).join(" ")} | ${exec} psql -v ON_ERROR_STOP=1 -q -U ${DB_USER} -d ${DB_NAME}`,
    `${exec} sh -c ${shellQuote(rewrite)}`,
  ].join(" && ");
}

/** Labels every container of the stack carries, so `khctl doctor` and `khctl status` can tell stacks apart. */
export function stackLabels(stack: string): { label: string; value: string }[] {
  return [{ label: STACK_LABEL, value: stack }];
}

/**
 * One environment variable of a container. `V` is how a value that may be secret is held: a Pulumi input in
 * the program, a plain string where the same declaration is run without Pulumi (test/real/docker/).
 */
export interface EnvEntry<V = string> {
  readonly name: string;
  readonly value: V | string;
  /** Holds a secret: the program passes it as a Pulumi secret, never as a plain value. */
  readonly secret?: boolean;
}

/** The Postgres image's password variable (its `_FILE` twin is what the stacks set). */
export const POSTGRES_PASSWORD_ENV = "POSTGRES_PASSWORD";
/** The Postgres images' entrypoint (it initialises the data directory, then execs its arguments). */
export const POSTGRES_ENTRYPOINT = "docker-entrypoint.sh";
/** The uid (and gid) of `postgres` in the Debian Postgres images, who reads the password file. */
export const POSTGRES_UID = 999;
/** The app container runs as the Node image's default user, root. */
export const APP_UID = 0;
/** Where a container's secret files are written (the `*_FILE` convention). */
export const SECRETS_DIR = "/run/secrets/keeperhub";
/** Read by the owner only: the container's own user, nobody else in it. */
export const SECRET_FILE_MODE = "0400";

/** The path of the file that holds variable `name`'s value in a container. */
export const secretFilePath = (name: string): string => `${SECRETS_DIR}/${name}`;

/** A secret given to a container as a file: its variable's `_FILE` twin names `path`. */
export interface SecretFile<V = string> {
  /** The variable it holds, e.g. DATABASE_URL (the container's env has DATABASE_URL_FILE). */
  readonly env: string;
  readonly path: string;
  readonly value: V | string;
  /** The numeric uid and gid that own it (mode SECRET_FILE_MODE): the user the container runs as. */
  readonly owner: number;
}

/**
 * A spec whose secret env entries become files: each `NAME` becomes `NAME_FILE=<path>` (same place in the
 * env) and a SecretFile owned by `owner`, so `docker inspect` shows paths and no secret. Pure.
 */
export function withSecretFiles<V>(spec: ContainerSpec<V>, owner: number): ContainerSpec<V> {
  const files = spec.env
    .filter((entry) => entry.secret)
    .map((entry) => ({ env: entry.name, path: secretFilePath(entry.name), value: entry.value, owner }));
  const env = spec.env.map((entry) =>
    entry.secret ? { name: fileTwin(entry.name), value: secretFilePath(entry.name) } : entry,
  );
  return { ...spec, env, secretFiles: [...(spec.secretFiles ?? []), ...files] };
}

/**
 * A shell script that reads each secret file into its variable, drops the `_FILE` twin and runs `command`,
 * for images that know no `_FILE` twins (the KeeperHub app) or not for every variable (a Postgres entrypoint
 * may read POSTGRES_PASSWORD alone, and the official one refuses the variable and its twin both set). The
 * values then live in the container's processes, never in its configuration (`docker inspect`). Pure.
 */
export function readSecretFilesScript(files: readonly SecretFile<unknown>[], command: string): string {
  const reads = files.map(
    (file) => `export ${file.env}="$(cat "$${fileTwin(file.env)}")" && unset ${fileTwin(file.env)} && `,
  );
  return `${reads.join("")}${command}`;
}

/**
 * The docker provider's uploads for a spec's secret files: written into the container before it starts,
 * owned by its user with mode 0400; the content is a Pulumi secret (encrypted in state, never shown).
 */
export function dockerUploads(
  files: readonly SecretFile<pulumi.Input<string>>[] | undefined,
): docker.types.input.ContainerUpload[] {
  return (files ?? []).map((file) => ({
    file: file.path,
    content: pulumi.secret(file.value),
    owner: String(file.owner),
    group: String(file.owner),
    permissions: SECRET_FILE_MODE,
  }));
}

/**
 * `NAME=value` entries for a Docker container. Docker has no secret references, so the entries that
 * carry a secret are Pulumi secrets: encrypted in state and masked in output, never plain values.
 */
export function dockerEnv(entries: readonly EnvEntry<pulumi.Input<string>>[]): pulumi.Input<string>[] {
  return entries.map(({ name, value, secret }) => {
    if (secret) return pulumi.secret(pulumi.interpolate`${name}=${value}`);
    return typeof value === "string" ? `${name}=${value}` : pulumi.interpolate`${name}=${value}`;
  });
}

/** A container's health check, as Docker runs it (the docker provider's fields, plain values). */
export interface Healthcheck {
  /** `["CMD-SHELL", "<shell command>"]`: healthy when it exits 0. */
  readonly tests: readonly ["CMD-SHELL", string];
  /** Durations as Docker writes them ("2s"). */
  readonly interval: string;
  readonly timeout: string;
  readonly retries: number;
  readonly startPeriod: string;
}

/**
 * A container of the stacks in plain values: the Pulumi program declares each container from one of these,
 * and the real-engine tests (test/real/docker/) run the same container with `docker run`, so neither
 * restates a name, a variable, a command or a timeout. `V` holds values that may be secret (EnvEntry).
 */
export interface ContainerSpec<V = string> {
  /** The container's name; on the stack's network the others reach it by this name. */
  readonly name: string;
  /** Arguments to the image's entrypoint (khctl, for the service images); unset: the image's own. */
  readonly command?: readonly string[];
  readonly env: readonly EnvEntry<V>[];
  /** Secrets written as files into the container (withSecretFiles), named by `_FILE` entries of env. */
  readonly secretFiles?: readonly SecretFile<V>[];
  /** Back after a crash, and after Docker itself restarts; not after `docker stop`. */
  readonly restart: "unless-stopped";
  /** The port it serves on, inside the network (the stacks publish it on the host). */
  readonly port?: number;
  /** Where its data volume is mounted. */
  readonly dataPath?: string;
  readonly healthcheck?: Healthcheck;
  /** The signal `docker stop` sends first. Default the image's (SIGTERM). */
  readonly stopSignal?: "SIGTERM";
  /** Seconds `docker stop` (and a stopping Docker) waits after it before SIGKILL. Default Docker's: 10. */
  readonly stopTimeoutSeconds?: number;
}

/** The provider's fields for a spec's health check (its tests as a mutable list). */
export function healthcheckArgs(
  check: Healthcheck | undefined,
): docker.types.input.ContainerHealthcheck | undefined {
  return check && { ...check, tests: [...check.tests] };
}

export function postgresHealthcheck(): Healthcheck {
  return {
    tests: ["CMD-SHELL", `pg_isready -h 127.0.0.1 -U ${DB_USER} -d ${DB_NAME}`],
    interval: "2s",
    timeout: "3s",
    retries: 30,
    startPeriod: "5s",
  };
}

export function localstackHealthcheck(): Healthcheck {
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
 * The host[:port] LocalStack names in queue URLs: host.minikube.internal for the minikube profile (the
 * same URL works from pods and from the host, whose clients send to AWS_ENDPOINT_URL whatever host it names), localhost for dev (the host is
 * the only place that reads them; the services always send to AWS_ENDPOINT_URL).
 */
export function localstackUrlHost(profile: "dev" | "minikube", hostPort: number): string {
  return `${profile === "minikube" ? HOST_ALIAS : "localhost"}:${hostPort}`;
}

/**
 * LocalStack's environment: SQS only, path-style queue URLs naming `urlHost` (see queueUrls), and the auth
 * token only when one is set (a secret; images after 4.14.0 need it).
 */
export function localstackEnv<V = string>(urlHost: string, authToken?: V): EnvEntry<V | string>[] {
  return [
    { name: "SERVICES", value: "sqs" },
    { name: "EAGER_SERVICE_LOADING", value: "1" },
    { name: "LOCALSTACK_HOST", value: urlHost },
    { name: "SQS_ENDPOINT_STRATEGY", value: "path" },
    ...(authToken === undefined ? [] : [{ name: LOCALSTACK_AUTH_TOKEN_ENV, value: authToken, secret: true }]),
  ];
}

/**
 * The Postgres container: the stack's database and owner, created with `password` on a new volume. The
 * password is a file owned by `postgres` (POSTGRES_PASSWORD_FILE names it), read into the entrypoint's
 * environment by readSecretFilesScript. Pure.
 */
export function postgresSpec<V>(password: V): ContainerSpec<V> {
  const spec: ContainerSpec<V> = {
    name: DOCKER.postgres,
    env: [
      { name: "POSTGRES_USER", value: DB_USER },
      { name: "POSTGRES_DB", value: DB_NAME },
      { name: POSTGRES_PASSWORD_ENV, value: password, secret: true },
    ],
    restart: "unless-stopped",
    port: POSTGRES_INTERNAL_PORT,
    dataPath: "/var/lib/postgresql/data",
    healthcheck: postgresHealthcheck(),
  };
  const withFiles = withSecretFiles(spec, POSTGRES_UID);
  // The image's own entrypoint, started by a shell that has read the password file first.
  const start = readSecretFilesScript(withFiles.secretFiles ?? [], `exec ${POSTGRES_ENTRYPOINT} postgres`);
  return { ...withFiles, command: ["sh", "-c", start] };
}

/** The LocalStack container (SQS), naming `urlHost` in queue URLs. Pure. */
export function localstackSpec<V = string>(urlHost: string, authToken?: V): ContainerSpec<V | string> {
  return {
    name: DOCKER.localstack,
    env: localstackEnv(urlHost, authToken),
    restart: "unless-stopped",
    port: LOCALSTACK_INTERNAL_PORT,
    dataPath: "/var/lib/localstack",
    healthcheck: localstackHealthcheck(),
  };
}

/** The SQS endpoint (LocalStack published on `hostPort`) from the host, from the stack's network and from pods. Pure. */
export function sqsEndpoints(hostPort: number): { host: string; network: string; cluster: string } {
  return {
    host: `http://localhost:${hostPort}`,
    network: `http://${DOCKER.localstack}:${LOCALSTACK_INTERNAL_PORT}`,
    cluster: `http://${HOST_ALIAS}:${hostPort}`,
  };
}

export interface ContainersArgs {
  /** Stack name, put on every container as the `io.keeperhub.stack` label. */
  readonly stack: string;
  /** The host[:port] in queue URLs (localstackUrlHost). */
  readonly queueUrlHost: string;
  /** Pinned images for Postgres and LocalStack. */
  readonly images: { readonly postgres: string; readonly localstack: string };
  /** Host ports to publish. */
  readonly ports: { readonly postgres: number; readonly localstack: number };
  /** Postgres password (a secret). */
  readonly dbPassword: pulumi.Input<string>;
  /** LocalStack's auth token (a secret), given to its container only when set. */
  readonly localstackAuthToken?: pulumi.Input<string>;
}

/** Where a stack's service container lives: the component, the children's name prefix, its options. */
interface Place {
  readonly parent: pulumi.ComponentResource;
  readonly name: string;
  readonly opts: pulumi.ComponentResourceOptions | undefined;
  readonly labels: { label: string; value: string }[];
}

/** A pulled image (kept on destroy: a cache, not something we made) and a volume of the stack's. */
function imageAndVolume(place: Place, what: string, image: string, volume: string) {
  const { parent, name, opts, labels } = place;
  return {
    image: new docker.RemoteImage(
      `${name}-${what}-image`,
      { name: image, keepLocally: true },
      childOf(parent, opts),
    ),
    volume: new docker.Volume(`${name}-${what}-data`, { name: volume, labels }, childOf(parent, opts)),
  };
}

/**
 * A container from a spec with a data volume and a published port, on the network, healthy before what
 * depends on it starts (`wait`).
 */
function dataContainer(
  place: Place,
  spec: ContainerSpec<pulumi.Input<string>>,
  from: { what: string; image: docker.RemoteImage; volume: docker.Volume; network: docker.Network },
  publish: { hostPort: number; waitSeconds: number },
  more: pulumi.CustomResourceOptions = {},
): docker.Container {
  const { parent, name, opts, labels } = place;
  return new docker.Container(
    `${name}-${from.what}`,
    {
      name: spec.name,
      image: from.image.imageId,
      restart: spec.restart,
      envs: dockerEnv(spec.env),
      uploads: dockerUploads(spec.secretFiles),
      command: spec.command && [...spec.command],
      ports: [{ internal: spec.port ?? 0, external: publish.hostPort }],
      volumes: [{ volumeName: from.volume.name, containerPath: spec.dataPath }],
      networksAdvanced: [{ name: from.network.name, aliases: [spec.name] }],
      healthcheck: healthcheckArgs(spec.healthcheck),
      labels,
      wait: true,
      waitTimeout: publish.waitSeconds,
    },
    childOf(parent, opts, more),
  );
}

/** Applies the password to the running database (setPasswordScript), again for a new container. */
function passwordCommand(
  place: Place,
  postgres: docker.Container,
  password: pulumi.Input<string>,
): command.local.Command {
  return new command.local.Command(
    `${place.name}-postgres-password`,
    {
      create: setPasswordScript(DOCKER.postgres),
      environment: { [NEW_PASSWORD_ENV]: pulumi.secret(password) },
      // A new container (a new id) may have started on an existing volume: set it there too.
      triggers: [postgres.id],
    },
    childOf(place.parent, place.opts, { dependsOn: [postgres] }),
  );
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
  /** Applies keeperhub:dbPassword to the running database; whatever connects comes after it. */
  readonly postgresPassword: command.local.Command;
  /** SQS endpoint from the host, from the network and from pods. */
  readonly endpoints: { readonly host: string; readonly network: string; readonly cluster: string };
  /** host:port of Postgres and LocalStack as minikube pods reach them. */
  readonly clusterAddresses: { readonly postgres: string; readonly localstack: string };

  constructor(name: string, args: ContainersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Containers", name, {}, opts);
    const place: Place = { parent: this, name, opts, labels: stackLabels(args.stack) };
    const network = new docker.Network(
      `${name}-network`,
      { name: DOCKER.network, labels: place.labels },
      childOf(this, opts),
    );
    this.network = network;
    const postgres = imageAndVolume(place, "postgres", args.images.postgres, DOCKER.postgresVolume);
    const localstack = imageAndVolume(place, "localstack", args.images.localstack, DOCKER.localstackVolume);
    this.postgres = dataContainer(
      place,
      postgresSpec<pulumi.Input<string>>(args.dbPassword),
      { what: "postgres", ...postgres, network },
      { hostPort: args.ports.postgres, waitSeconds: 120 },
      // POSTGRES_* apply only when the data directory is created: a changed password must not replace
      // the container (the volume keeps the old one); postgresPassword applies it, and rewrites the file.
      { ignoreChanges: ["envs", "uploads"] },
    );
    this.postgresPassword = passwordCommand(place, this.postgres, args.dbPassword);
    this.localstack = dataContainer(
      place,
      localstackSpec<pulumi.Input<string>>(args.queueUrlHost, args.localstackAuthToken),
      { what: "localstack", ...localstack, network },
      { hostPort: args.ports.localstack, waitSeconds: 180 },
    );
    const url = (host: string, port: number) => databaseUrl(host, port, args.dbPassword, args.stack);
    this.hostDatabaseUrl = url("localhost", args.ports.postgres);
    this.networkDatabaseUrl = url(DOCKER.postgres, POSTGRES_INTERNAL_PORT);
    this.clusterDatabaseUrl = url(HOST_ALIAS, args.ports.postgres);
    this.clusterAddresses = {
      postgres: `${HOST_ALIAS}:${args.ports.postgres}`,
      localstack: `${HOST_ALIAS}:${args.ports.localstack}`,
    };
    this.endpoints = sqsEndpoints(args.ports.localstack);
    this.registerOutputs({
      network: this.network.name,
      postgres: this.postgres.name,
      localstack: this.localstack.name,
      hostDatabaseUrl: this.hostDatabaseUrl,
    });
  }
}
