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
