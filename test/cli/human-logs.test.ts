import { describe, expect, it } from "vitest";
import { spawnCli } from "../helpers/cli-process.js";
import { within } from "../helpers/wait.js";

/**
 * khctl console is for a person on the host: a record it logs (a page that failed) is one human line on
 * stderr, as khctl dev writes them, even when stderr is a pipe (as here), never a raw JSON record.
 */

/** Nothing listens on port 1: every page that needs the database fails, and the console logs why. */
const UNREACHABLE = {
  DATABASE_URL: "postgres://user:pass@127.0.0.1:1/nothing",
  SQS_QUEUE_URL: "http://127.0.0.1:1/000000000000/keeperhub-workflow-queue",
  AWS_ENDPOINT_URL: "http://127.0.0.1:1",
};

describe("khctl console's log records (the real CLI process)", () => {
  it("a failed page is logged as one human line naming the page and the error", async () => {
    const web = spawnCli(["console", "--port", "0"], UNREACHABLE);
    try {
      await web.waitForOutput("Ctrl-C stops it.");
      const url = /KeeperHub console: (http:\/\/127\.0\.0\.1:\d+)/.exec(web.output("stdout"))?.[1];
      expect((await fetch(`${url}/workflows`)).status).toBe(500);
      await web.waitForOutput("console page failed");
    } finally {
      web.kill("SIGINT");
    }
    const result = await within(web.result, 10_000, "khctl console stopping after SIGINT");
    expect(result.code).toBe(0);
    const logged = result.stderr.split("\n").filter((line) => line.includes("console page failed"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(
      /^\d\d:\d\d:\d\d {2}warn {6}console: console page failed \(err=connect ECONNREFUSED 127\.0\.0\.1:1, url=\/workflows\)$/,
    );
    expect(result.stderr).not.toMatch(/^\{/m);
  });
});
