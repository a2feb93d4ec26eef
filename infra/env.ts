import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../services/contracts/names.js";
import { LOCALSTACK_CREDENTIALS } from "./containers.js";

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

/** What a service container on the Docker network needs to reach Postgres and the queue. */
export interface ServiceSettings<V = string> {
  /** DATABASE_URL from the network (secret). */
  readonly databaseUrl: V;
  /** SQS endpoint from the network (http://keeperhub-localstack:4566). */
  readonly awsEndpointUrl: string;
  readonly awsRegion: string;
  readonly queueUrl: V | string;
  readonly logLevel: string;
  /** INTEGRATION_ENCRYPTION_KEY (secret); only the services that run workflows get it. */
  readonly encryptionKey?: V;
}

/** The settings as the Pulumi program holds them. */
export type DockerServiceSettings = ServiceSettings<pulumi.Input<string>>;

/** The environment of a service container, in order. Pure. */
export function serviceEnv<V>(settings: ServiceSettings<V>): EnvEntry<V>[] {
  return [
    { name: ENV.databaseUrl, value: settings.databaseUrl, secret: true },
    { name: ENV.awsEndpointUrl, value: settings.awsEndpointUrl },
    { name: ENV.awsRegion, value: settings.awsRegion },
    { name: ENV.awsAccessKeyId, value: LOCALSTACK_CREDENTIALS.accessKeyId },
    { name: ENV.awsSecretAccessKey, value: LOCALSTACK_CREDENTIALS.secretAccessKey },
    { name: ENV.sqsQueueUrl, value: settings.queueUrl },
    { name: ENV.logLevel, value: settings.logLevel },
    // Pino writes JSON in containers; `docker logs` stays machine-readable.
    { name: ENV.logFormat, value: "json" },
    ...(settings.encryptionKey !== undefined
      ? [{ name: ENV.integrationEncryptionKey, value: settings.encryptionKey, secret: true }]
      : []),
  ];
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

/** `NAME=value` entries of a service container on the network (dockerEnv of serviceEnv). */
export function dockerServiceEnv(settings: DockerServiceSettings): pulumi.Input<string>[] {
  return dockerEnv(serviceEnv(settings));
}
