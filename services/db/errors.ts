/**
 * Postgres errors that retrying cannot fix: SQLSTATE class 22 (data exception: a value the column
 * cannot hold) and class 23 (integrity constraint violation: e.g. the workflow a message names does not
 * exist). Conflicts never reach callers as errors (inserts use ON CONFLICT DO NOTHING).
 */
export function isPermanentDatabaseError(error: unknown): boolean {
  return /^2[23]/.test((error as { code?: string } | null)?.code ?? "");
}

// Errors that mean "the database cannot be reached now", not "this query is wrong": the server is down,
// restarting or refusing connections (SQLSTATE classes 08 and 57P, too many connections), or the network
// is. The consumers stop receiving while they last (intake/database-gate.ts).
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "53300",
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|the database system is (starting up|shutting down)/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  const { code = "", message = "" } = (error ?? {}) as { code?: string; message?: string };
  if (UNAVAILABLE_CODES.has(code) || /^08/.test(code) || /^57P0[123]$/.test(code)) return true;
  const inner = (error as { errors?: unknown[] } | null)?.errors;
  if (Array.isArray(inner) && inner.some(isDatabaseUnavailable)) return true;
  return UNAVAILABLE_MESSAGES.test(message);
}
