import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../services/contracts/names.js";
import { LOCALSTACK_CREDENTIALS } from "./containers.js";

/** What a service container on the Docker network needs to reach Postgres and the queue. */
export interface DockerServiceSettings {
  /** DATABASE_URL from the network (secret). */
  readonly databaseUrl: pulumi.Input<string>;
  /** SQS endpoint from the network (http://keeperhub-localstack:4566). */
  readonly awsEndpointUrl: string;
  readonly awsRegion: string;
  readonly queueUrl: pulumi.Input<string>;
  readonly logLevel: string;
  /** INTEGRATION_ENCRYPTION_KEY (secret); only the services that run workflows get it. */
  readonly encryptionKey?: pulumi.Input<string>;
}

/**
 * `NAME=value` entries for a Docker container. Docker has no secret references, so the entries that
 * carry a secret are Pulumi secrets: encrypted in state and masked in output, never plain values.
 */
export function dockerServiceEnv(settings: DockerServiceSettings): pulumi.Input<string>[] {
  const secret = (name: string, value: pulumi.Input<string>) =>
    pulumi.secret(pulumi.interpolate`${name}=${value}`);
  return [
    secret(ENV.databaseUrl, settings.databaseUrl),
    `${ENV.awsEndpointUrl}=${settings.awsEndpointUrl}`,
    `${ENV.awsRegion}=${settings.awsRegion}`,
    `${ENV.awsAccessKeyId}=${LOCALSTACK_CREDENTIALS.accessKeyId}`,
    `${ENV.awsSecretAccessKey}=${LOCALSTACK_CREDENTIALS.secretAccessKey}`,
    pulumi.interpolate`${ENV.sqsQueueUrl}=${settings.queueUrl}`,
    `${ENV.logLevel}=${settings.logLevel}`,
    // Pino writes JSON in containers; `docker logs` stays machine-readable.
    "LOG_FORMAT=json",
    ...(settings.encryptionKey ? [secret(ENV.integrationEncryptionKey, settings.encryptionKey)] : []),
  ];
}
