import * as pulumi from "@pulumi/pulumi";
import type { Profile } from "../services/contracts/names.js";
import { ENV } from "../services/contracts/names.js";
import type { ClusterSettings, StackConfig } from "./config.js";
import { excerpt, khctlReport, runOnHost, shellQuote } from "./khctl.js";

export interface PreflightArgs {
  /** The profile whose checks run: `dev` (Docker) or `minikube` (Docker, minikube; the hosts line only as a hint). */
  readonly profile: Profile;
  /** The stack name: its own containers may hold the ports (a second `up`). */
  readonly stack: string;
  /** Host ports the stack publishes; the checks fail when another stack's container holds one. */
  readonly ports: { readonly postgres: number; readonly localstack: number; readonly app: number };
  /** Whether the app container is part of the stack (only then is its port checked). */
  readonly appEnabled: boolean;
  /** The LocalStack image, and whether an auth token is configured (a newer image needs one). */
  readonly localstack: { readonly image: string; readonly authTokenSet: boolean };
  /** The cluster profile's targets: its context, namespace, registry and queues. */
  readonly cluster?: {
    readonly kubeContext: string;
    readonly namespace: string;
    readonly settings: ClusterSettings;
  };
}

/** Secret settings the cluster profile's checks need, as plain values (the preflight is an invoke, never state). */
export interface PreflightSecrets {
  readonly databaseUrl?: string;
  readonly awsAccessKeyId?: string;
  readonly awsSecretAccessKey?: string;
}

/** The preflight's arguments for a stack. Pure. */
export function preflightArgs(config: StackConfig, stack: string): PreflightArgs {
  return {
    profile: config.profile,
    stack,
    ports: config.ports,
    appEnabled: config.appCheckoutPath !== undefined,
    localstack: { image: config.images.localstack, authTokenSet: config.localstackAuthTokenSet },
    ...(config.cluster
      ? {
          cluster: { kubeContext: config.kubeContext, namespace: config.namespace, settings: config.cluster },
        }
      : {}),
  };
}

/** The cluster profile's `khctl doctor` flags. Pure. */
function clusterDoctorArgs(cluster: NonNullable<PreflightArgs["cluster"]>): string[] {
  const { settings } = cluster;
  return [
    "--context",
    cluster.kubeContext,
    ...(settings.kubeconfig ? ["--kubeconfig", settings.kubeconfig] : []),
    "--namespace",
    cluster.namespace,
    "--registry",
    settings.registry,
    "--queue-url",
    settings.queueUrl,
    "--dlq-url",
    settings.dlqUrl,
    ...(settings.createQueues ? ["--create-queues"] : []),
  ];
}

/**
 * The environment the cluster profile's doctor runs with: the database and SQS as the stack reaches them
 * from here (static keys when configured, else this machine's own AWS credentials). Pure.
 */
export function preflightEnvironment(
  args: PreflightArgs,
  region: string,
  secrets: PreflightSecrets,
): Record<string, string> | undefined {
  if (!args.cluster) return undefined;
  const { settings } = args.cluster;
  const optional = (name: string, value: string | undefined) => (value ? { [name]: value } : {});
  return {
    [ENV.awsRegion]: region,
    ...optional(ENV.awsEndpointUrl, settings.sqsEndpoint),
    ...optional(ENV.databaseUrl, secrets.databaseUrl),
    ...(settings.awsCredentials === "static"
      ? {
          ...optional(ENV.awsAccessKeyId, secrets.awsAccessKeyId),
          ...optional(ENV.awsSecretAccessKey, secrets.awsSecretAccessKey),
        }
      : {}),
  };
}

/** The `khctl doctor` arguments for a profile and its ports. Pure, for tests. */
export function doctorArgs(args: PreflightArgs): string[] {
  if (args.cluster)
    return ["doctor", "--profile", args.profile, "--stack", args.stack, ...clusterDoctorArgs(args.cluster)];
  return [
    "doctor",
    "--profile",
    args.profile,
    "--stack",
    args.stack,
    "--postgres-port",
    String(args.ports.postgres),
    "--localstack-port",
    String(args.ports.localstack),
    ...(args.appEnabled ? ["--app-port", String(args.ports.app)] : []),
    "--localstack-image",
    args.localstack.image,
    ...(args.localstack.authTokenSet ? ["--localstack-token"] : []),
  ];
}

/** One check of `khctl doctor --json`. */
export interface DoctorCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly required: boolean;
  readonly message: string;
  readonly fix?: string;
}

/** A failed preflight: Pulumi prints the message alone (no stack trace), before anything changed. */
export class PreflightError extends pulumi.RunError {
  override name = "PreflightError";
}

/** The checks from `khctl doctor --json`; throws PreflightError when it printed none (naming stderr). */
export function parseDoctorReport(stdout: string, stderr: string): DoctorCheck[] {
  try {
    const report = JSON.parse(stdout) as { checks?: unknown };
    if (Array.isArray(report.checks)) return report.checks as DoctorCheck[];
  } catch {
    // Not JSON: khctl did not start (tsx missing, a syntax error); stderr says why.
  }
  throw new PreflightError(
    `the preflight \`khctl doctor\` printed no report: ${excerpt(stderr) || excerpt(stdout) || "no output"}\n` +
      "Run `npm install`, then `npx khctl doctor` to see it.",
  );
}

/**
 * The message for the required checks that failed, each with the doctor's one-line fix; undefined when
 * all passed. Pure.
 */
export function preflightFailure(checks: readonly DoctorCheck[], args: PreflightArgs): string | undefined {
  const failed = checks.filter((check) => check.required && !check.ok);
  if (failed.length === 0) return undefined;
  const lines = failed.flatMap((check) => [
    `  ${check.name}: ${check.message}`,
    ...(check.fix ? [`    fix: ${check.fix}`] : []),
  ]);
  return [
    `preflight failed (khctl doctor), nothing was changed:`,
    ...lines,
    // The cluster profile's doctor needs its targets (and DATABASE_URL, AWS_* in the environment).
    `Check again with: npx khctl ${args.cluster ? doctorArgs(args).map(shellQuote).join(" ") : `doctor --profile ${args.profile}`}`,
  ].join("\n");
}

/** The checks that failed but do not stop the stack (a warning each, with its fix). Pure. */
export function preflightWarnings(checks: readonly DoctorCheck[]): string[] {
  return checks
    .filter((check) => !check.required && !check.ok)
    .map((check) => `${check.name}: ${check.message}${check.fix ? ` (fix: ${check.fix})` : ""}`);
}

/**
 * Runs `khctl doctor` on every preview and update, before anything is declared: no provider is
 * configured and nothing changes until it passes, so a missing Docker or minikube ends with the
 * doctor's fix rather than a provider's connection error. Throws PreflightError when a check fails.
 */
export async function runPreflight(
  args: PreflightArgs,
  environment?: Record<string, string>,
): Promise<DoctorCheck[]> {
  const { stdout, stderr } = await runOnHost(khctlReport(doctorArgs(args)), environment);
  const checks = parseDoctorReport(stdout, stderr);
  const failure = preflightFailure(checks, args);
  if (failure) throw new PreflightError(failure);
  for (const warning of preflightWarnings(checks)) void pulumi.log.warn(warning);
  return checks;
}
