import type { Command } from "commander";
import { DLQ_NAME, QUEUE_NAME } from "../../contracts/names.js";
import { errorMessage } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { runDetachedWorker, shouldDetach, superviseWorker } from "../../dev/detach.js";
import { runDemo, runDev } from "../../dev/dev.js";
import { DEV_POSTGRES_PORT, type DevEnvironment, startDevEnvironment } from "../../dev/environment.js";
import { MANUAL_EXAMPLE, SCHEDULED_EXAMPLE } from "../../dev/seed.js";
import { defaultDataDir } from "../../embedded/postgres.js";
import { CliError } from "../errors.js";
import { loadReport, renderReport } from "./execution.js";

interface DevFlags {
  demo?: boolean;
  dataDir?: string;
  reset?: boolean;
  port?: string;
  interval?: string;
  concurrency?: string;
}

function numberFlag(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min)
    throw new CliError(`${flag} must be a number >= ${min}, got "${value}"`, 2);
  return n;
}

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

export function register(program: Command): void {
  program
    .command("dev")
    .description(
      "the embedded default (npm start): Postgres, an SQS emulator, the dispatcher and the executor in one process tree, with example workflows",
    )
    .option(
      "--demo",
      "trigger the manual example, wait for it, print its steps and exit (0 when it succeeded)",
    )
    .option("--data-dir <dir>", "where the data lives (env KH_DATA_DIR; default: see below)")
    .option("--reset", "delete the embedded database first: a fresh start with the examples seeded again")
    .option(
      "--port <port>",
      `Postgres port on 127.0.0.1 (default ${DEV_POSTGRES_PORT}, or any free port when taken; 0 = any)`,
    )
    .option("--interval <seconds>", "seconds between dispatcher passes (default 5)")
    .option("--concurrency <n>", "executions run at once (default 4)")
    .addHelpText(
      "after",
      `
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
KH_DEV_DETACH=0 never.`,
    )
    .action(async (flags: DevFlags) => {
      // In a terminal, dev runs as a detached worker so that Ctrl-C cannot reach Postgres (see detach.ts).
      if (shouldDetach(process.env, process.stdin.isTTY === true)) {
        process.exitCode = await runDetachedWorker();
        return;
      }
      superviseWorker();
      const intervalSeconds = numberFlag(flags.interval, "--interval", 5, 0.5);
      const concurrency = Math.floor(numberFlag(flags.concurrency, "--concurrency", 4, 1));
      const port = flags.port === undefined ? undefined : Math.floor(numberFlag(flags.port, "--port", 0, 0));
      const logger = createLogger("dev", { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });

      const stopRequested = new AbortController();
      let firstSignalAt = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        if (!firstSignalAt) {
          firstSignalAt = Date.now();
          process.stderr.write(`\n${signal}: stopping (runs in flight get up to 10 s)…\n`);
          stopRequested.abort(signal);
        } else if (Date.now() - firstSignalAt > 1000) {
          // npm and tsx relay the terminal's Ctrl-C too, so the same one can arrive twice at once.
          process.stderr.write("still stopping; Postgres is stopped last so that runs can be recorded\n");
        }
      };
      for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(name, onSignal);
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
        if (stopRequested.signal.aborted) return;

        if (flags.demo) {
          const result = await runDemo(environment, { logger, concurrency, signal: stopRequested.signal });
          console.log(`\n${renderReport(await loadReport(environment.pool, result.executionId))}`);
          if (result.status !== "success") throw new CliError(`the demo run ended ${result.status}`);
          return;
        }

        const run = runDev(environment, { logger, intervalSeconds, concurrency });
        console.log(`Waiting for the next minute's slot…`);
        await new Promise<void>((resolve) => stopRequested.signal.addEventListener("abort", () => resolve()));
        await run.stop({ timeoutMs: 10_000 });
        await run.done;
      } finally {
        await environment?.stop();
        for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(name, onSignal);
        if (environment) process.stderr.write("stopped.\n");
        logger.flush();
      }
    });
}
