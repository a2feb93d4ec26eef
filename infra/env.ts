import type * as pulumi from "@pulumi/pulumi";
import { ENV } from "../services/contracts/names.js";
import { type EnvEntry, LOCALSTACK_CREDENTIALS } from "./containers.js";

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
