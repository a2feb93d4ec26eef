import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { spawnCli } from "../helpers/cli-process.js";
import { createTempDir } from "../helpers/temp.js";

const dataDir = await createTempDir("kh-dev");

/** Processes whose command line mentions the data dir: a Postgres left running would show up here. */
async function processesUsing(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(dir)) found.push(`${pid}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}

const env = {
  KH_DATA_DIR: dataDir,
  DATABASE_URL: undefined,
  SQS_QUEUE_URL: undefined,
  AWS_ENDPOINT_URL: undefined,
};

describe("khctl dev (the real CLI process)", () => {
  it("--demo on a fresh data dir: seeds the examples, runs the manual one, prints its steps, exits 0", async () => {
    const result = await spawnCli(["dev", "--demo", "--port", "0"], env).result;
    expect(result.stderr).not.toMatch(/khctl:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("seeded just now");
    expect(result.stdout).toContain(`${dataDir}/postgres`);
    expect(result.stdout).toMatch(/Status\s+success/);
    expect(result.stdout).toMatch(/Steps\s+3\/3/);
    expect(result.stdout).toMatch(/greet\s+│ Greet\s+│ HTTP Request │ success/);
    expect(await processesUsing(dataDir)).toEqual([]);
  });

  it("keeps its data across runs, and SIGINT stops everything: exit 0, no Postgres left behind", async () => {
    const child = spawnCli(["dev", "--port", "0"], env);
    await child.waitForOutput("Waiting for the next minute", 30_000);
    const stdout = child.output("stdout");
    expect(stdout).toContain("Waiting for the next minute");
    // The second run finds the examples from the first: nothing is seeded again.
    expect(stdout).not.toContain("seeded just now");
    expect(stdout).toContain('"Manual: say hello"');
    expect(await processesUsing(dataDir)).not.toEqual([]);
    child.kill("SIGINT");
    const result = await child.result;
    expect(result.stderr).toContain("stopped.");
    expect(result.code).toBe(0);
    expect(await processesUsing(dataDir)).toEqual([]);
  });
});
