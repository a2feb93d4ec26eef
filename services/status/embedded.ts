import { errorMessage } from "../core/errors.js";
import { createPool } from "../db/pool.js";
import type { DevState } from "../dev/instance.js";
import { type StatusPart, unreachable } from "./parts.js";

/**
 * The embedded profile's parts (`khctl dev`): the dev process itself, its Postgres, and its dispatcher
 * and executor as its heartbeat in dev.json tells them (dev/instance.ts). Pure but for postgresPart.
 */

const secondsAgo = (iso: string, now: Date) =>
  Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));

/** A heartbeat older than this many intervals means the dev process is stuck (or gone). */
const STALE_AFTER_BEATS = 3;
/** dev writes its heartbeat every this many seconds (cli/commands/dev.ts). */
export const HEARTBEAT_SECONDS = 5;

export function devPart(dev: DevState | null, dataDir: string, now: Date = new Date()): StatusPart<DevState> {
  if (!dev) {
    return unreachable("dev", true, `no khctl dev is running on ${dataDir} (npm start, or khctl dev)`);
  }
  const beat = dev.heartbeat ? secondsAgo(dev.heartbeat.at, now) : null;
  const stale = beat === null || beat > STALE_AFTER_BEATS * HEARTBEAT_SECONDS;
  const ports = dev.connection?.ports;
  return {
    name: "dev",
    required: true,
    ok: !stale,
    summary: `pid ${dev.pid}, up since ${dev.startedAt}${
      stale ? `; no heartbeat for ${beat ?? "?"}s (stuck? kill ${dev.pid} and start it again)` : ""
    }`,
    lines: [
      `data     ${dev.dataDir}`,
      ...(ports
        ? [
            `ports    postgres ${ports.postgres}, sqs ${ports.sqs}, demo API ${ports.demoApi}${ports.console ? `, console ${ports.console}` : ""}`,
          ]
        : []),
      ...(dev.connection?.console ? [`console  ${dev.connection.console}`] : []),
    ],
    data: dev,
  };
}

export function dispatcherPart(dev: DevState | null, now: Date = new Date()): StatusPart {
  const dispatcher = dev?.heartbeat?.dispatcher;
  if (!dispatcher) return unreachable("dispatcher", true, "not running (no khctl dev)");
  // A pass per interval; allow a few, and a slow pass, before calling it stuck.
  const limit = Math.max(3 * dispatcher.intervalSeconds, 30);
  const ago = dispatcher.lastPassAt ? secondsAgo(dispatcher.lastPassAt, now) : null;
  const ok = ago !== null ? ago <= limit : dev !== null && secondsAgo(dev.startedAt, now) <= limit;
  return {
    name: "dispatcher",
    required: true,
    ok,
    summary: `${ago === null ? "no pass yet" : `last pass ${ago}s ago`}, every ${dispatcher.intervalSeconds} s${
      ok ? "" : " (no pass for too long: see dev's terminal)"
    }`,
    lines: [],
    data: dispatcher,
  };
}

export function executorPart(dev: DevState | null): StatusPart {
  const executor = dev?.heartbeat?.executor;
  if (!executor) return unreachable("executor", true, "not running (no khctl dev)");
  return {
    name: "executor",
    required: true,
    ok: executor.running,
    summary: executor.running
      ? `taking work: ${executor.inFlight} run(s) in flight, up to ${executor.concurrency} at once`
      : `stopping: ${executor.inFlight} run(s) finishing`,
    lines: [],
    data: executor,
  };
}

/** Postgres answers, and which version it is. */
export async function postgresPart(url: string | undefined): Promise<StatusPart> {
  if (!url)
    return unreachable("postgres", true, "no database URL (no khctl dev, and DATABASE_URL is not set)");
  const pool = createPool(url, { max: 1, applicationName: "khctl-status" });
  try {
    const { rows } = await pool.query<{ version: string }>(
      "SELECT current_setting('server_version') AS version",
    );
    const where = new URL(url);
    return {
      name: "postgres",
      required: true,
      ok: true,
      summary: `${where.hostname}:${where.port}${where.pathname}, PostgreSQL ${rows[0]?.version ?? "?"}`,
      lines: [],
    };
  } catch (error) {
    return unreachable("postgres", true, errorMessage(error));
  } finally {
    await pool.end().catch(() => {});
  }
}
