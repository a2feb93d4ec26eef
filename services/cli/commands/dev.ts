import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { type RunningConsole, startConsole } from "../../console/server.js";
import { DEFAULT_NAMESPACE, DLQ_NAME, QUEUE_NAME, SERVICE_DEFAULTS } from "../../contracts/names.js";
import { DISPATCHER_SETTINGS, EXECUTOR_SETTINGS, FLAG_SETTINGS } from "../../contracts/settings.js";
import { errorMessage } from "../../core/errors.js";
import { handleStopSignals, type Stoppable } from "../../core/lifecycle.js";
import { createLogger, type Logger } from "../../core/logger.js";
import { dataBaseDir, defaultDataDir } from "../../dev/data-dir.js";
import { runDetachedWorker, shouldDetach, superviseWorker } from "../../dev/detach.js";
import { type DevRun, runDemo, runDev } from "../../dev/dev.js";
import { type DevEnvironment, startDevEnvironment } from "../../dev/environment.js";
import { DataDirInUseError, type DevLock, findRunningDev } from "../../dev/instance.js";
import { MANUAL_EXAMPLE, SCHEDULED_EXAMPLE } from "../../dev/seed.js";
import { collectStatus, type StatusOptions } from "../../status/report.js";
import { COMMAND_LIST } from "../command-list.js";
import { CliError } from "../errors.js";
import { loadReport, renderReport } from "../execution-report.js";
import { commandSettings, settingOption } from "../settings.js";

interface DevFlags {
  demo?: boolean;
  dataDir?: string;
  reset?: boolean;
}

/** dev runs the dispatcher and the executor: it reads their interval and concurrency, with its own flags. */
const DEV_SETTINGS = {
  intervalSeconds: { ...DISPATCHER_SETTINGS.intervalSeconds, summary: "seconds between dispatcher passes" },
  concurrency: EXECUTOR_SETTINGS.concurrency,
  shutdownTimeoutSeconds: FLAG_SETTINGS.devShutdownTimeoutSeconds,
};
const PORT_SETTINGS = {
  postgres: FLAG_SETTINGS.devPostgresPort,
  sqs: FLAG_SETTINGS.devSqsPort,
  demoApi: FLAG_SETTINGS.devDemoApiPort,
  console: FLAG_SETTINGS.devConsolePort,
};
/** How often a running dev rewrites its heartbeat in dev.json (khctl status reads it), ms. */
const HEARTBEAT_MS = 5_000;

function banner(
  environment: DevEnvironment,
  web: RunningConsole | undefined,
  intervalSeconds: number,
  concurrency: number,
): string {
  const { seed, env } = environment;
  const lines = [
    "KeeperHub dev: the scheduling pipeline on this machine (embedded Postgres, fauxqs SQS emulator)",
    "",
    ...(web ? [`  console    ${web.url}  (workflows, live runs, step logs, the DLQ, health)`] : []),
    `  data       ${environment.clusterDir}  (kept across runs; --reset starts fresh)`,
    `  database   ${environment.databaseUrl}`,
    `  sqs        ${environment.sqsEndpoint}  (${QUEUE_NAME}, ${DLQ_NAME}; in memory)`,
    `  demo API   ${environment.demoBase}  (what the example workflows call)`,
    `  workflows  "${SCHEDULED_EXAMPLE}" ${seed.scheduledId ?? "(deleted)"}: every minute`,
    `             "${MANUAL_EXAMPLE}" ${seed.manualId ?? "(deleted)"}: manual`,
  ];
  if (seed.created) lines.push("             (seeded just now: the database had no workflows)");
  if (environment.recovered.interrupted || environment.recovered.requeued) {
    lines.push(
      `  recovered  ${environment.recovered.interrupted} run(s) interrupted by the last stop (recorded as error), ${environment.recovered.requeued} pending run(s) re-queued`,
    );
  }
  for (const notice of [...environment.notices, ...(web?.notices ?? [])]) {
    lines.push(`  notice     ${notice}`);
  }
  lines.push(
    "",
    "In another terminal of this checkout, khctl finds this instance by itself (or npx khctl, slower):",
    '  export PATH="$PWD/bin:$PATH"                   # once per terminal: the checkout\'s bin/khctl',
    `  khctl trigger "${MANUAL_EXAMPLE}" --wait     # run the manual example now`,
    "  khctl status                                   # what runs, queue depths, the last runs",
    "  khctl workflow list                            # then show, update, enable, disable, delete",
    "Other tools (psql, scripts):",
    `  export DATABASE_URL=${env.DATABASE_URL} SQS_QUEUE_URL=${env.SQS_QUEUE_URL} AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}`,
    "",
    `Dispatcher every ${intervalSeconds} s, up to ${concurrency} runs at once. Ctrl-C stops everything.`,
    "",
  );
  return lines.join("\n");
}

const HELP = `
Data: the Postgres cluster is kept in <data dir>/postgres across runs. Each checkout has its own data
dir: KH_DATA_DIR when set, else <base>/<checkout folder>-<hash of its path>, where <base> is, as root,
/var/tmp/keeperhub-hybrid (the server runs as the postgres user, which cannot enter root's home),
otherwise $XDG_DATA_HOME/keeperhub-hybrid or ~/.local/share/keeperhub-hybrid. Here:
  ${defaultDataDir()}
One dev per data dir: a second one, --reset or --demo --data-dir on a data dir in use is refused,
naming the running one. --demo alone runs on a throw-away data dir and free ports, so it works while
npm start runs. Reset: khctl dev --reset (or delete that folder). The queue lives in memory: pending
runs are re-queued at the next start, and runs cut off by a stop are recorded as error ("interrupted").

Ports (127.0.0.1 only): Postgres ${PORT_SETTINGS.postgres.default}, SQS ${PORT_SETTINGS.sqs.default}, demo API ${PORT_SETTINGS.demoApi.default}, web console ${PORT_SETTINGS.console.default} (not
with --demo); one that is taken falls back to a free port, with a notice. While dev runs, <data dir>/dev.json holds its connection settings: every khctl
command of this checkout run without DATABASE_URL, SQS_QUEUE_URL and AWS_ENDPOINT_URL uses it, and says so.

Environment: KH_DATA_DIR (see above); LOG_LEVEL (default warn here: the output is the run lines).
Ctrl-C (SIGINT) or SIGTERM: the dispatcher stops, runs in flight get --shutdown-timeout (10 s) to finish
(then they are cancelled), the servers stop, Postgres last; a second Ctrl-C cancels the runs at once. In a terminal
(stdin is a TTY) dev runs as a worker in its own session, so Ctrl-C reaches only khctl, which relays it,
and not Postgres; the worker stops when khctl goes away. KH_DEV_DETACH=1 does so without a terminal,
KH_DEV_DETACH=0 never.`;

export function register(program: Command): void {
  program
    .command("dev")
    .description(COMMAND_LIST.dev.summary)
    .option(
      "--demo",
      "on a throw-away data dir: trigger the manual example, wait for it, print its steps and exit (0 when it succeeded)",
    )
    .option("--data-dir <dir>", "where the data lives (env KH_DATA_DIR; default: see below)")
    .option("--reset", "delete the embedded database first: a fresh start with the examples seeded again")
    .addOption(settingOption(PORT_SETTINGS.postgres))
    .addOption(settingOption(PORT_SETTINGS.sqs))
    .addOption(settingOption(PORT_SETTINGS.demoApi))
    .addOption(settingOption(PORT_SETTINGS.console))
    .addOption(settingOption(DEV_SETTINGS.intervalSeconds))
    .addOption(settingOption(DEV_SETTINGS.concurrency))
    .addOption(settingOption(DEV_SETTINGS.shutdownTimeoutSeconds))
    .addHelpText("after", HELP)
    .action(async (flags: DevFlags, self: Command) => {
      // In a terminal, dev runs as a detached worker so that Ctrl-C cannot reach Postgres (see detach.ts).
      if (shouldDetach(process.env, process.stdin.isTTY === true)) {
        process.exitCode = await runDetachedWorker();
        return;
      }
      superviseWorker();
      await dev(flags, self);
    });
}

/** The ports to ask for: the flags given; else, for the demo, any free ones; else the stable defaults. */
function wantedPorts(
  self: Command,
  demo: boolean,
): { postgres?: number; sqs?: number; demoApi?: number; console?: number } {
  const values = commandSettings(self, PORT_SETTINGS);
  const given = (key: keyof typeof PORT_SETTINGS, option: string) =>
    self.getOptionValueSource(option) === "cli" ? values[key] : demo ? 0 : undefined;
  return {
    postgres: given("postgres", "port"),
    sqs: given("sqs", "sqsPort"),
    demoApi: given("demoApi", "demoApiPort"),
    console: given("console", "consolePort"),
  };
}

/** dev's logger: warn unless LOG_LEVEL says otherwise, and human lines like the rest of its output. */
const devLogger = (): Logger =>
  createLogger("dev", { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" }, { human: true });

/** startDevEnvironment, its failures as one line: a data dir in use names its holder. */
async function startEnvironment(
  options: Parameters<typeof startDevEnvironment>[0],
  flags: DevFlags,
): Promise<DevEnvironment> {
  try {
    return await startDevEnvironment(options);
  } catch (error) {
    if (error instanceof DataDirInUseError) throw refusal(error, flags);
    throw new CliError(`could not start the embedded environment: ${errorMessage(error)}`);
  }
}

/** The pipeline until a signal stops it, with dev's heartbeat in dev.json meanwhile. */
async function runUntilStopped(
  environment: DevEnvironment,
  session: DevSession,
  options: { logger: Logger; intervalSeconds: number; concurrency: number },
): Promise<void> {
  console.log("Waiting for the next minute's slot…");
  const pipeline = runDev(environment, options);
  const heartbeat = startHeartbeat(environment.lock, pipeline, options);
  try {
    await session.run(pipeline);
  } finally {
    clearInterval(heartbeat);
  }
}

async function dev(flags: DevFlags, self: Command): Promise<void> {
  const { intervalSeconds, concurrency, shutdownTimeoutSeconds } = commandSettings(self, DEV_SETTINGS);
  const shutdownTimeoutMs = Math.round(shutdownTimeoutSeconds * 1000);
  const ports = wantedPorts(self, flags.demo === true);
  const logger = devLogger();
  const session = new DevSession(shutdownTimeoutMs);
  const signals = handleStopSignals(session, {
    shutdownTimeoutMs,
    stopping: `runs in flight get up to ${shutdownTimeoutSeconds} s; Postgres stops last, so they are recorded`,
    say: (line) => process.stderr.write(`\n${line}\n`),
    signals: ["SIGINT", "SIGTERM", "SIGHUP"],
  });
  // --demo alone: a throw-away data dir, so it never meets the data (or the lock) of a running npm start.
  const throwaway =
    flags.demo && !flags.dataDir ? await mkdtemp(path.join(os.tmpdir(), "kh-demo-")) : undefined;
  const dataDir = path.resolve(throwaway ?? flags.dataDir ?? defaultDataDir());
  let environment: DevEnvironment | undefined;
  let webConsole: RunningConsole | undefined;
  try {
    const throwawayDir = throwaway !== undefined;
    environment = await startEnvironment(
      { dataDir, reset: flags.reset, ports, throwaway: throwawayDir, logger },
      flags,
    );
    const legacy = legacyDataNotice(dataDir, environment.seed.created, flags);
    webConsole = flags.demo ? undefined : await startDevConsole(environment, ports.console, logger);
    const shown = legacy ? { ...environment, notices: [...environment.notices, legacy] } : environment;
    console.log(banner(shown, webConsole, intervalSeconds, concurrency));
    await publishConnection(environment, webConsole);
    if (session.stopRequested.aborted) return;
    if (!flags.demo)
      return await runUntilStopped(environment, session, { logger, intervalSeconds, concurrency });
    const result = await runDemo(environment, { logger, concurrency, signal: session.stopRequested });
    console.log(`\n${renderReport(await loadReport(environment.pool, result.executionId))}`);
    if (result.status !== "success") throw new CliError(`the demo run ended ${result.status}`);
  } finally {
    await webConsole?.stop();
    await environment?.stop();
    if (throwaway) await rm(throwaway, { recursive: true, force: true });
    signals.dispose();
    if (environment) process.stderr.write("stopped.\n");
    logger.flush();
  }
}

/** One line: which dev holds the data dir, and what to do. */
function refusal(error: DataDirInUseError, flags: DevFlags): CliError {
  const holder = error.holder;
  const stop = `stop it first (Ctrl-C in its terminal, or kill ${holder.pid})`;
  if (flags.reset) {
    return new CliError(
      `--reset would delete the data of the khctl dev running on ${holder.dataDir} (${describe(error)}): ${stop}`,
    );
  }
  const use = flags.demo
    ? "leave out --data-dir to run the demo on a throw-away data dir"
    : "use it (khctl commands of this checkout find it by themselves)";
  return new CliError(`${error.message}: ${use}, or ${stop}`);
}

const describe = (error: DataDirInUseError) => error.message.slice(error.message.lastIndexOf("(") + 1, -1);

/**
 * Data dirs used to be one per user, not per checkout: when this checkout's is new and the old one
 * exists, say where it is, so nobody thinks their workflows are lost.
 */
function legacyDataNotice(dataDir: string, seeded: boolean, flags: DevFlags): string | undefined {
  if (!seeded || flags.demo || flags.dataDir || process.env.KH_DATA_DIR) return undefined;
  const base = dataBaseDir();
  if (dataDir === base || !existsSync(path.join(base, "postgres", "PG_VERSION"))) return undefined;
  return `an earlier khctl dev kept its data in ${base}; to use it: KH_DATA_DIR=${base} npm start`;
}

/** The web console on dev's own pool and queue; its health page is `khctl status` of this dev. */
async function startDevConsole(
  environment: DevEnvironment,
  port: number | undefined,
  logger: Logger,
): Promise<RunningConsole> {
  const { dataDir } = environment;
  const statusOptions: StatusOptions = {
    profile: "embedded",
    minikubeProfile: "minikube",
    kubeContext: undefined,
    namespace: DEFAULT_NAMESPACE,
    databaseUrl: environment.databaseUrl,
    queueUrl: environment.queueUrl,
    sqs: { endpoint: environment.sqsEndpoint, region: SERVICE_DEFAULTS.awsRegion },
  };
  return startConsole(
    {
      pool: environment.pool,
      sqs: environment.sqs,
      queueUrl: environment.queueUrl,
      health: async () =>
        collectStatus({ ...statusOptions, dev: { dataDir, state: await findRunningDev(dataDir) } }),
      logger,
      pipeline: `khctl dev on ${dataDir}`,
    },
    { ...(port === undefined ? {} : { port }) },
  );
}

async function publishConnection(environment: DevEnvironment, webConsole?: RunningConsole): Promise<void> {
  const { env } = environment;
  await environment.lock.publish({
    state: "running",
    connection: {
      databaseUrl: env.DATABASE_URL as string,
      sqsQueueUrl: env.SQS_QUEUE_URL as string,
      awsEndpointUrl: env.AWS_ENDPOINT_URL as string,
      awsRegion: env.AWS_REGION as string,
      demoApi: environment.demoBase,
      ...(webConsole ? { console: webConsole.url } : {}),
      ports: { ...environment.ports, ...(webConsole ? { console: webConsole.port } : {}) },
    },
  });
}

/** Rewrites dev.json's heartbeat every few seconds: `khctl status` tells a live pipeline from a stuck one. */
function startHeartbeat(
  lock: DevLock,
  pipeline: DevRun,
  settings: { intervalSeconds: number; concurrency: number },
): NodeJS.Timeout {
  const beat = () => {
    const stats = pipeline.stats();
    void lock
      .publish({
        heartbeat: {
          at: new Date().toISOString(),
          dispatcher: {
            lastPassAt: stats.lastPassAt?.toISOString() ?? null,
            intervalSeconds: settings.intervalSeconds,
          },
          executor: { running: !stats.stopping, inFlight: stats.inFlight, concurrency: settings.concurrency },
        },
      })
      .catch(() => {});
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return timer;
}

/**
 * dev's stop target (core/lifecycle.ts): a stop request may come before the pipeline runs (during
 * start-up), and then ends dev as soon as start-up is done; while it runs, stops go to the pipeline.
 */
class DevSession implements Stoppable {
  private readonly stop$ = new AbortController();
  private current: DevRun | undefined;
  private ended!: () => void;
  readonly done = new Promise<void>((resolve) => {
    this.ended = resolve;
  });

  /** lastTimeoutMs: what runs in flight get after the first stop request; a later one may shorten it. */
  constructor(private lastTimeoutMs: number) {}

  get stopRequested(): AbortSignal {
    return this.stop$.signal;
  }

  async run(pipeline: DevRun): Promise<void> {
    this.current = pipeline;
    if (this.stop$.signal.aborted) void pipeline.stop({ timeoutMs: this.lastTimeoutMs });
    else await new Promise<void>((resolve) => this.stop$.signal.addEventListener("abort", () => resolve()));
    await pipeline.done;
    this.ended();
  }

  async stop({ timeoutMs }: { timeoutMs: number }): Promise<void> {
    this.lastTimeoutMs = Math.min(this.lastTimeoutMs, timeoutMs);
    this.stop$.abort();
    await this.current?.stop({ timeoutMs: this.lastTimeoutMs });
  }
}
