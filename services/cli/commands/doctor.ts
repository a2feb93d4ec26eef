import type { Command } from "commander";
import {
  DEFAULT_LOCALSTACK_IMAGE,
  DEFAULT_NAMESPACE,
  DEFAULT_PORTS,
  ENV,
  HOSTS_LINE,
  LAST_FREE_LOCALSTACK_VERSION,
  LOCALSTACK_AUTH_TOKEN_ENV,
  PROFILES,
  type Profile,
  STACK_OF_PROFILE,
} from "../../contracts/names.js";
import {
  type CheckResult,
  type DoctorProbes,
  failedRequired,
  parseReachTarget,
  type ReachTarget,
  renderDoctor,
  runDoctor,
  runReachChecks,
  systemProbes,
} from "../../doctor/checks.js";
import {
  type ClusterProbes,
  type ClusterTarget,
  runClusterChecks,
  systemClusterProbes,
} from "../../doctor/cluster-checks.js";
import { loadSqsConnection } from "../../queue/client.js";
import { COMMAND_LIST } from "../command-list.js";
import { CliError } from "../errors.js";
import { printJson } from "../shared.js";

interface DoctorFlags {
  profile: string;
  stack?: string;
  postgresPort: string;
  localstackPort: string;
  appPort?: string;
  localstackImage: string;
  localstackToken?: boolean;
  reach: string[];
  json?: boolean;
  context?: string;
  kubeconfig?: string;
  namespace: string;
  registry?: string;
  queueUrl?: string;
  dlqUrl?: string;
  createQueues?: boolean;
}

/** The cluster profile's target from the flags and env (DATABASE_URL, AWS_*). */
function clusterTarget(flags: DoctorFlags, env: NodeJS.ProcessEnv = process.env): ClusterTarget {
  const missing = (["context", "registry", "queueUrl", "dlqUrl"] as const).filter((key) => !flags[key]);
  if (missing.length > 0) {
    const names = missing.map((key) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new CliError(`--profile cluster needs ${names.join(", ")}`, 2);
  }
  return {
    context: flags.context ?? "",
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    namespace: flags.namespace,
    registry: flags.registry ?? "",
    databaseUrl: env[ENV.databaseUrl] || undefined,
    queueUrl: flags.queueUrl ?? "",
    dlqUrl: flags.dlqUrl ?? "",
    sqs: loadSqsConnection(env),
    createQueues: flags.createQueues === true,
  };
}

function port(flag: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65_535) {
    throw new CliError(`${flag} must be a port number from 1 to 65535 (got "${value}")`, 2);
  }
  return parsed;
}

function reachTarget(raw: string): ReachTarget {
  const target = parseReachTarget(raw);
  if (!target) throw new CliError(`--reach must be name=host:port (got "${raw}")`, 2);
  return target;
}

const HELP = `
Checks, each one line with how to fix it when it fails:
  docker           the Docker daemon answers (both profiles)
  minikube         minikube is installed (profile minikube)
  hosts            (a hint) host.minikube.internal resolves to this machine (profile minikube): khctl and
                   the services do not need it, tools that send to a queue URL's own host do (the AWS
                   CLI without --endpoint-url); fix: echo "${HOSTS_LINE}" | sudo tee -a /etc/hosts
  port:<n>         each port is free, or held by this stack's own containers (not the other stack's)
  localstack       (a warning) a LocalStack image after ${LAST_FREE_LOCALSTACK_VERSION}, the last community
                   release, has an auth token: without ${LOCALSTACK_AUTH_TOKEN_ENV} it exits with code 55

Profile cluster (stack cluster), instead of the above, each against the stack's own targets:
  context          the API server answers through --context (and --kubeconfig)
  rbac             the context's user may do what pulumi up and destroy do (one SelfSubjectAccessReview each)
  registry         --registry's /v2/ answers (200, or 401: the push logs in)
  database         DATABASE_URL accepts a connection
  queue            --queue-url and --dlq-url exist (with --create-queues: SQS answers)
It reads DATABASE_URL, AWS_REGION, AWS_ENDPOINT_URL and the AWS credentials from the environment.

With --reach name=host:port (repeatable) only those addresses are checked, each must accept a TCP
connection within 5 s: \`pulumi up -s hybrid\` runs \`khctl doctor --reach ...\` in a pod of the namespace
to check that pods reach Postgres and LocalStack through host.minikube.internal.

Exit status: 0 when every required check passes, 1 otherwise. \`pulumi up\` runs this first.
No environment settings are read, but whether ${LOCALSTACK_AUTH_TOKEN_ENV} is set (it counts as
--localstack-token).
`;

/** The checks the flags ask for: the reach checks, the cluster profile's, or a Docker profile's. */
async function checksFor(
  flags: DoctorFlags,
  which: { readonly profile: Profile; readonly stack: string },
  probes: DoctorProbes,
  clusterProbes: ClusterProbes,
): Promise<CheckResult[]> {
  if (flags.reach.length > 0) return runReachChecks(flags.reach.map(reachTarget), probes);
  if (which.profile === "cluster") return runClusterChecks(clusterTarget(flags), clusterProbes);
  const ports: Record<string, number> = {
    postgres: port("--postgres-port", flags.postgresPort),
    localstack: port("--localstack-port", flags.localstackPort),
    ...(flags.appPort ? { app: port("--app-port", flags.appPort) } : {}),
  };
  const localstack = {
    image: flags.localstackImage,
    authTokenSet: flags.localstackToken === true || Boolean(process.env[LOCALSTACK_AUTH_TOKEN_ENV]),
  };
  return runDoctor({ ...which, ports, localstack }, probes);
}

/** `khctl doctor`; `probes` stand in for the machine in tests. */
export function register(
  program: Command,
  probes: DoctorProbes = systemProbes(),
  clusterProbes: ClusterProbes = systemClusterProbes(),
): void {
  program
    .command("doctor")
    .description(COMMAND_LIST.doctor.summary)
    .option(
      "--profile <profile>",
      `dev (stack local), minikube (stack hybrid) or cluster (stack cluster)`,
      "dev",
    )
    .option("--stack <name>", "the stack being brought up (default: the profile's: local, hybrid, cluster)")
    .option("--postgres-port <port>", "host port of Postgres", String(DEFAULT_PORTS.postgres))
    .option("--localstack-port <port>", "host port of LocalStack", String(DEFAULT_PORTS.localstack))
    .option("--app-port <port>", "host port of the app, checked only when given")
    .option("--localstack-image <image>", "the LocalStack image the stack runs", DEFAULT_LOCALSTACK_IMAGE)
    .option("--localstack-token", `a LocalStack auth token is configured (keeperhub:localstackAuthToken)`)
    .option(
      "--reach <name=host:port>",
      "check only that this address answers (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--context <name>", "profile cluster: the kubeconfig context")
    .option(
      "--kubeconfig <file>",
      "profile cluster: the kubeconfig file (default KUBECONFIG, ~/.kube/config)",
    )
    .option("--namespace <name>", "profile cluster: the stack's namespace", DEFAULT_NAMESPACE)
    .option("--registry <host/path>", "profile cluster: where the images are pushed")
    .option("--queue-url <url>", "profile cluster: the workflow queue")
    .option("--dlq-url <url>", "profile cluster: the dead-letter queue")
    .option("--create-queues", "profile cluster: pulumi up creates the queues (missing ones are fine)")
    .option("--json", "print the results as JSON")
    .addHelpText("after", HELP)
    .action(async (flags: DoctorFlags) => {
      if (!(PROFILES as readonly string[]).includes(flags.profile)) {
        throw new CliError(`--profile must be one of ${PROFILES.join(", ")} (got "${flags.profile}")`, 2);
      }
      const profile = flags.profile as Profile;
      const stack = flags.stack ?? STACK_OF_PROFILE[profile];
      const results = await checksFor(flags, { profile, stack }, probes, clusterProbes);
      const failed = failedRequired(results);
      if (flags.json) printJson({ profile, stack, ok: failed.length === 0, checks: results });
      else process.stdout.write(`${renderDoctor(results)}\n`);
      if (failed.length > 0) {
        throw new CliError(`${failed.length} required check(s) failed: ${failed.join(", ")}`);
      }
    });
}
