import { readFileSync } from "node:fs";
import { SECRET_ENV } from "../contracts/names.js";
import { ConfigError } from "./errors.js";

/**
 * The `*_FILE` convention (as the Postgres image's POSTGRES_PASSWORD_FILE): a secret variable may instead
 * name a file that holds its value, so the container's configuration (`docker inspect`) shows a path, not
 * the secret. This module is the one place that reads a variable or its `_FILE` twin.
 */

/** The `_FILE` twin of a variable: DATABASE_URL -> DATABASE_URL_FILE. */
export const fileTwin = (name: string): string => `${name}_FILE`;

/** The variables that may come from a file: the secret ones (DATABASE_URL, INTEGRATION_ENCRYPTION_KEY). */
export const FILE_ENV: readonly string[] = SECRET_ENV;

/**
 * The value of `name` in `env`, or the content of the file its `_FILE` twin names (one trailing newline
 * dropped, as `echo … > file` writes it). Undefined when neither is set. Both set, an unreadable or an empty
 * file: a ConfigError naming the variable.
 */
export function envOrFile(
  env: NodeJS.ProcessEnv,
  name: string,
  read: (file: string) => string = (file) => readFileSync(file, "utf8"),
): string | undefined {
  const file = env[fileTwin(name)];
  if (!file) return env[name] || undefined;
  if (env[name]) throw new ConfigError(`${name} and ${fileTwin(name)} are both set: set one of them`);
  let content: string;
  try {
    content = read(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError(`${fileTwin(name)} names ${file}, which cannot be read (${code})`);
  }
  const value = content.replace(/\r?\n$/, "");
  if (value === "") throw new ConfigError(`${fileTwin(name)} names ${file}, which is empty`);
  return value;
}

/**
 * Puts the value of every `_FILE` variable of FILE_ENV into `env` under its own name, once at start (khctl's
 * main), so every reader of DATABASE_URL and INTEGRATION_ENCRYPTION_KEY, and the runner children the executor
 * starts, see the value; the file's path stays the only thing in the container's configuration.
 */
export function loadSecretFiles(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of FILE_ENV) {
    if (!env[fileTwin(name)]) continue;
    env[name] = envOrFile(env, name);
    delete env[fileTwin(name)];
  }
}
