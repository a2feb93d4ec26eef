/** Turns anything thrown into an Error, so callers can rely on `.message`. */
export function coerceError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : JSON.stringify(thrown));
}

export const errorMessage = (thrown: unknown): string => coerceError(thrown).message;

/** A missing or malformed setting: the services exit 1 with its one-line message, which names it. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Why a network call failed, in words, for the errors Node reports by code. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "timed out",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
};

/** Postgres errors (SQLSTATE) whose fix is a khctl command. */
const POSTGRES_HINTS: Record<string, string> = {
  "42P01": "the schema is missing or old: run `khctl migrate`",
  "42703": "the schema is missing or old: run `khctl migrate`",
};

/**
 * One line for an unexpected error: network failures name the address and how to see what is down;
 * Postgres errors that a migration fixes say so. Anything else is its own message.
 */
export function describeError(error: unknown): string {
  type NetworkError = { code?: string; address?: string; hostname?: string; port?: number; message?: string };
  const { code, message } = (error ?? {}) as NetworkError;
  const text = message || String(error);
  if (code && NETWORK_ERRORS[code]) {
    // A host with several addresses (localhost: ::1 and 127.0.0.1) fails as an AggregateError of each.
    const first = ((error as { errors?: NetworkError[] }).errors?.[0] ?? error) as NetworkError;
    const host = first.address ?? first.hostname;
    const where = host ? `${host}${first.port ? `:${first.port}` : ""}` : "the service";
    return `cannot reach ${where}: ${NETWORK_ERRORS[code]} (is it running? \`khctl status\` shows what is up)`;
  }
  if (code && POSTGRES_HINTS[code]) return `${text}: ${POSTGRES_HINTS[code]}`;
  return text.split("\n")[0] ?? text;
}
