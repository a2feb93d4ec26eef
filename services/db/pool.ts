import pg from "pg";
import { createLogger, type Logger } from "../core/logger.js";

let defaultLogger: Logger | undefined;
/** Where pool errors go when the caller gave no logger: created on first use. */
const poolLogger = (): Logger => {
  defaultLogger ??= createLogger("db");
  return defaultLogger;
};

// int8 (count(*), sums) as a JS number: our counters stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that runs a query: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, "query">;

export function createPool(
  databaseUrl: string,
  options: { max?: number; applicationName?: string; logger?: Logger } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "keeperhub",
    connectionTimeoutMillis: 10_000,
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  // 57P01 (administrator command) is the server stopping on purpose (khctl dev's Ctrl-C stops Postgres
  // last) or pg_terminate_backend: news only when debugging, never a warning among a terminal's lines.
  pool.on("error", (error) => {
    const code = (error as { code?: string }).code;
    const logger = options.logger ?? poolLogger();
    const log = code === "57P01" ? logger.debug.bind(logger) : logger.warn.bind(logger);
    log({ err: error.message, code }, "an idle database connection failed; the next query reconnects");
  });
  return pool;
}

/** Runs fn in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // The pool listens only to its idle clients: a server going away between two of this transaction's
  // queries would otherwise be an unhandled 'error' event. The next query fails and says why.
  const ignore = () => {};
  client.on("error", ignore);
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.off("error", ignore);
    client.release();
  }
}
