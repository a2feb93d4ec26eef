import { describe, expect, it } from "vitest";
import { spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { within } from "../helpers/wait.js";

const { url } = await createTestDatabase();
const testSqs = await createTestSqs();

const RANGE = "0 (no passes) or a number of seconds from 1 to 3600";

describe("an interval's floor and ceiling, through the real khctl's parsing (contracts/settings.ts)", () => {
  it("refuses a --reconcile-interval below its floor in one line naming the flag and the range (exit 2)", async () => {
    const result = await spawnCli(["executor", "--reconcile-interval", "0.0001"], { DATABASE_URL: url })
      .result;
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`khctl: --reconcile-interval must be ${RANGE}, got "0.0001"\n`);
  });

  it("refuses RECONCILE_INTERVAL_SECONDS above its ceiling in one line naming the variable (exit 1)", async () => {
    const result = await spawnCli(["spawner"], { DATABASE_URL: url, RECONCILE_INTERVAL_SECONDS: "7200" })
      .result;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`khctl: RECONCILE_INTERVAL_SECONDS must be ${RANGE}, got "7200"\n`);
  });

  it("takes values at the floor and the ceiling: the executor starts with them, and stops on SIGTERM", async () => {
    const { env } = await testSqs.createQueues();
    // The interval's ceiling by flag, the pending limit's floor by variable.
    const child = spawnCli(["executor", "--reconcile-interval", "3600"], {
      ...env,
      DATABASE_URL: url,
      PENDING_LIMIT_SECONDS: "10",
      LOG_LEVEL: "info",
    });
    try {
      await child.waitForOutput("executor started");
      child.kill("SIGTERM");
      const result = await within(child.result, 10_000, "the executor exiting after SIGTERM");
      expect(result.code).toBe(0);
      expect(result.stderr).not.toMatch(/khctl:/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("--help states each flag's range beside its default", async () => {
    const result = await spawnCli(["executor", "--help"], {}).result;
    expect(result.code).toBe(0);
    expect(result.stdout.replace(/\s+/g, " ")).toContain(
      "(default 15; 0 (no passes) or 1-3600 s) (env: RECONCILE_INTERVAL_SECONDS)",
    );
  });
});
