/**
 * Postgres errors that retrying cannot fix: SQLSTATE class 22 (data exception: a value the column
 * cannot hold) and class 23 (integrity constraint violation: e.g. the workflow a message names does not
 * exist). Conflicts never reach callers as errors (inserts use ON CONFLICT DO NOTHING).
 */
export function isPermanentDatabaseError(error: unknown): boolean {
  return /^2[23]/.test((error as { code?: string } | null)?.code ?? "");
}
