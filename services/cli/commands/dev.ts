import type { Command } from "commander";
import { DLQ_NAME, QUEUE_NAME } from "../../contracts/names.js";
import { DISPATCHER_SETTINGS, EXECUTOR_SETTINGS, FLAG_SETTINGS } from "../../contracts/settings.js";
import { errorMessage } from "../../core/errors.js";
import { handleStopSignals, type Stoppable } from "../../core/lifecycle.js";
import { createLogger } from "../../core/logger.js";
import { runDetachedWorker, shouldDetach, superviseWorker } from "../../dev/detach.js";
import { DEV_SHUTDOWN_TIMEOUT_MS, type DevRun, runDemo, runDev } from "../../dev/dev.js";
import { type DevEnvironment, startDevEnvironment } from "../../dev/environment.js";
import { MANUAL_EXAMPLE, SCHEDULED_EXAMPLE } from "../../dev/seed.js";
import { defaultDataDir } from "../../embedded/postgres.js";
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
};

function banner(environment: DevEnvironment, intervalSeconds: number, concurrency: number): string {
  const { seed, env } = environment;
  const lines = [
    "KeeperHub dev: the scheduling pipeline on this machine (embedded Postgres, fauxqs SQS emulator)",
    "",
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
  lines.push(
    "",
    "In another terminal:",
    `  export DATABASE_URL=${env.DATABASE_URL} SQS_QUEUE_URL=${env.SQS_QUEUE_URL} AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}`,
    `  npx khctl trigger ${seed.manualId ?? "<workflowId>"} --wait     # run the manual example now`,
    "  npx khctl execution <executionId>        # one run and its steps",
    "",
    `Dispatcher every ${intervalSeconds} s, up to ${concurrency} runs at once. Ctrl-C stops everything.`,
    "",
  );
  return lines.join("\n");
}

const HELP = `
Data: the Postgres cluster is kept in <data dir>/postgres across runs. The data dir is KH_DATA_DIR when
set; as root /var/tmp/keeperhub-hybrid (the server runs as the postgres user, which cannot enter root's
home); otherwise $XDG_DATA_HOME/keeperhub-hybrid or ~/.local/share/keeperhub-hybrid. Here:
  ${defaultDataDir()}
Reset: khctl dev --reset (or delete that folder). The queue lives in memory: pending runs are re-queued
at the next start, and runs cut off by a stop are recorded as error ("interrupted").

Environment: KH_DATA_DIR (see above); LOG_LEVEL (default warn here: the output is the run lines).
Everything listens on 127.0.0.1 only. Ctrl-C (SIGINT) or SIGTERM: the dispatcher stops, runs in
flight get 10 s to finish (then they are cancelled), the servers stop, Postgres last. In a terminal
(stdin is a TTY) dev runs as a worker in its own session, so Ctrl-C reaches only khctl, which relays it,
and not Postgres; the worker stops when khctl goes away. KH_DEV_DETACH=1 does so without a terminal,
KH_DEV_DETACH=0 never.`;

export function register(program: Command): void {
  program
    .command("dev")
    .description(COMMAND_LIST.dev.summary)
    .option(
      "--demo",
      "trigger the manual example, wait for it, print its steps and exit (0 when it succeeded)",
    )
    .option("--data-dir <dir>", "where the data lives (env KH_DATA_DIR; default: see below)")
    .option("--reset", "delete the embedded database first: a fresh start with the examples seeded again")
    .addOption(settingOption(FLAG_SETTINGS.devPostgresPort))
    .addOption(settingOption(DEV_SETTINGS.intervalSeconds))
    .addOption(settingOption(DEV_SETTINGS.concurrency))
    .addHelpText("after", HELP)
    .action(async (flags: DevFlags, self: Command) => {
      // In a terminal, dev runs as a detached worker so that Ctrl-C cannot reach Postgres (see detach.ts).
      if (shouldDetach(process.env, process.stdin.isTTY === true)) {
        process.exitCode = await runDetachedWorker();
        return;
      }
      superviseWorker();
      const { intervalSeconds, concurrency } = commandSettings(self, DEV_SETTINGS);
      const { devPostgresPort } = commandSettings(self, { devPostgresPort: FLAG_SETTINGS.devPostgresPort });
      const port = self.getOptionValueSource("port") === "cli" ? devPostgresPort : undefined;
      const logger = createLogger("dev", { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });
      const session = new DevSession();
      const signals = handleStopSignals(session, {
        shutdownTimeoutMs: DEV_SHUTDOWN_TIMEOUT_MS,
        stopping: `runs in flight get up to ${DEV_SHUTDOWN_TIMEOUT_MS / 1000} s; Postgres stops last, so they are recorded`,
        say: (line) => process.stderr.write(`\n${line}\n`),
        signals: ["SIGINT", "SIGTERM", "SIGHUP"],
      });
      let environment: DevEnvironment | undefined;
      try {
        try {
          environment = await startDevEnvironment({
            dataDir: flags.dataDir,
            reset: flags.reset,
            postgresPort: port,
            logger,
          });
        } catch (error) {
          throw new CliError(`could not start the embedded environment: ${errorMessage(error)}`);
        }
        console.log(banner(environment, intervalSeconds, concurrency));
        if (session.stopRequested.aborted) return;
        if (flags.demo) {
          const result = await runDemo(environment, { logger, concurrency, signal: session.stopRequested });
          console.log(`\n${renderReport(await loadReport(environment.pool, result.executionId))}`);
          if (result.status !== "success") throw new CliError(`the demo run ended ${result.status}`);
          return;
        }
        console.log(`Waiting for the next minute's slot…`);
        await session.run(runDev(environment, { logger, intervalSeconds, concurrency }));
      } finally {
        await environment?.stop();
        signals.dispose();
        if (environment) process.stderr.write("stopped.\n");
        logger.flush();
      }
    });
}

/**
 * dev's stop target (core/lifecycle.ts): a stop request may come before the pipeline runs (during
 * start-up), and then ends dev as soon as start-up is done; while it runs, stops go to the pipeline.
 */
class DevSession implements Stoppable {
  private readonly stop$ = new AbortController();
  private current: DevRun | undefined;
  private lastTimeoutMs = DEV_SHUTDOWN_TIMEOUT_MS;
  private ended!: () => void;
  readonly done = new Promise<void>((resolve) => {
    this.ended = resolve;
  });

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
