import { SQSClient } from "@aws-sdk/client-sqs";
import { ENV } from "../contracts/names.js";
import { readEnv, sqsConnectionShape } from "../core/config.js";

/** Where SQS is: AWS itself, or an emulator (LocalStack, fauxqs) at `endpoint`. */
export interface SqsConnection {
  /** The SQS endpoint (LocalStack or fauxqs); unset means AWS itself. */
  readonly endpoint: string | undefined;
  /** AWS region. Default us-east-1. */
  readonly region: string;
}

/**
 * The SQS connection from AWS_ENDPOINT_URL and AWS_REGION, without requiring SQS_QUEUE_URL
 * (`khctl queue ensure` runs before the queue exists).
 */
export function loadSqsConnection(env: NodeJS.ProcessEnv = process.env): SqsConnection {
  const parsed = readEnv(sqsConnectionShape, env);
  return { endpoint: parsed[ENV.awsEndpointUrl], region: parsed[ENV.awsRegion] };
}

/**
 * Attempts per SQS request, the first included: the SDK retries a failed call (throttling, 5xx, network
 * errors) with its own backoff, and this is the only place that says how often. Callers never retry a
 * whole call again; they only retry what a call accepted only in part (batch entries SQS refused).
 */
export const SQS_MAX_ATTEMPTS = 3;

/**
 * An SQS client for the connection. Against an emulator (endpoint set) and with no AWS credentials in the
 * environment it uses test/test, as LocalStack and fauxqs accept any; against AWS the SDK's own
 * credential chain applies and nothing is defaulted.
 */
export function createSqsClient(connection: SqsConnection, env: NodeJS.ProcessEnv = process.env): SQSClient {
  const hasCredentials = Boolean(env[ENV.awsAccessKeyId] && env[ENV.awsSecretAccessKey]);
  return new SQSClient({
    region: connection.region,
    maxAttempts: SQS_MAX_ATTEMPTS,
    // Every call goes to the endpoint, whatever host a queue URL names (LocalStack names host.minikube.internal
    // for pods), so the host needs no /etc/hosts line. The SDK already prefers a configured endpoint; stated
    // here so that it stays so.
    ...(connection.endpoint ? { endpoint: connection.endpoint, useQueueUrlAsEndpoint: false } : {}),
    ...(connection.endpoint && !hasCredentials
      ? { credentials: { accessKeyId: "test", secretAccessKey: "test" } }
      : {}),
  });
}
