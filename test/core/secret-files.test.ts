import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../services/core/errors.js";
import { envOrFile, fileTwin, loadSecretFiles } from "../../services/core/secret-files.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTempDir } from "../helpers/temp.js";

const dir = await createTempDir("kh-secret-files");

/** A secret file as the stacks write it: the value, mode 0400. */
async function secretFile(name: string, content: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, content);
  await chmod(file, 0o400);
  return file;
}

describe("a secret variable or its _FILE twin", () => {
  it("reads the file the _FILE twin names, one trailing newline dropped", async () => {
    const file = await secretFile("url", "postgres://u:p@db:5432/k\n");
    expect(envOrFile({ DATABASE_URL_FILE: file }, "DATABASE_URL")).toBe("postgres://u:p@db:5432/k");
    expect(envOrFile({ DATABASE_URL: "postgres://direct" }, "DATABASE_URL")).toBe("postgres://direct");
    expect(envOrFile({}, "DATABASE_URL")).toBeUndefined();
    expect(fileTwin("INTEGRATION_ENCRYPTION_KEY")).toBe("INTEGRATION_ENCRYPTION_KEY_FILE");
  });

  it("refuses both at once, a file that cannot be read, and an empty file, naming the variable", async () => {
    const empty = await secretFile("empty", "\n");
    expect(() => envOrFile({ DATABASE_URL: "x", DATABASE_URL_FILE: empty }, "DATABASE_URL")).toThrow(
      new ConfigError("DATABASE_URL and DATABASE_URL_FILE are both set: set one of them"),
    );
    expect(() => envOrFile({ DATABASE_URL_FILE: path.join(dir, "absent") }, "DATABASE_URL")).toThrow(
      /^DATABASE_URL_FILE names .*absent, which cannot be read \(ENOENT\)$/,
    );
    expect(() => envOrFile({ DATABASE_URL_FILE: empty }, "DATABASE_URL")).toThrow(/which is empty$/);
  });

  it("puts both secret values into the environment at start and drops the _FILE names", async () => {
    const env: NodeJS.ProcessEnv = {
      DATABASE_URL_FILE: await secretFile("db", "postgres://a"),
      INTEGRATION_ENCRYPTION_KEY_FILE: await secretFile("key", "ab".repeat(32)),
      LOG_LEVEL_FILE: await secretFile("not-a-secret", "debug"),
    };
    loadSecretFiles(env);
    expect(env).toEqual({
      DATABASE_URL: "postgres://a",
      INTEGRATION_ENCRYPTION_KEY: "ab".repeat(32),
      // Only the secret variables have a _FILE twin.
      LOG_LEVEL_FILE: env.LOG_LEVEL_FILE,
    });
  });
});

describe("khctl with DATABASE_URL_FILE (the stacks' containers)", () => {
  it("reads the URL from the file: a bad one is named as DATABASE_URL's", async () => {
    const file = await secretFile("bad-url", "mysql://x/y\n");
    const result = await spawnCli(["migrate"], { DATABASE_URL: undefined, DATABASE_URL_FILE: file }).result;
    expect(result).toMatchObject({ code: 1, stderr: "khctl: DATABASE_URL must be a postgres:// URL\n" });
  });

  it("fails in one line when the file is missing", async () => {
    const missing = path.join(dir, "missing");
    const result = await spawnCli(["migrate"], { DATABASE_URL: undefined, DATABASE_URL_FILE: missing })
      .result;
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `khctl: DATABASE_URL_FILE names ${missing}, which cannot be read (ENOENT)\n`,
    });
  });
});
