/**
 * The test run's Postgres server, in a process of its own (global-setup.ts starts it with
 * `node --import tsx test/helpers/postgres-process.ts <dataDir>`), so nothing the server's library does
 * to its process (exit hooks, signal handlers) can reach the test runner's process or its exit code.
 *
 * Prints one JSON line `{"url": …}` on stdout once the server accepts connections. Stops the server and
 * exits when its stdin closes (the runner ended, whatever way) or on SIGINT/SIGTERM; the data directory
 * is deleted on stop.
 */
import { startEmbeddedPostgres } from "../../services/embedded/postgres.js";

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write("usage: postgres-process.ts <dataDir>\n");
  process.exit(2);
}

const server = await startEmbeddedPostgres({ dataDir, ephemeral: true });
let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`test Postgres did not stop cleanly: ${String(error)}\n`);
      process.exit(1);
    },
  );
  return stopping;
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
