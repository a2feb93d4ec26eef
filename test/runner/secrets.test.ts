import { describe, expect, it } from "vitest";
import { runExecution } from "../../services/runner/index.js";
import { createTestDatabase } from "../helpers/database.js";
import { capturedLogger } from "../helpers/logs.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { createPending, startTestServer } from "./fixtures.js";

// Secrets reach a run through its input (as a user passes them) and the responses it gets. Nothing the
// run writes (step log rows, the execution's output and error) and no log line may hold one.

const { pool } = await createTestDatabase();
const server = await startTestServer();

const SENTINELS = {
  queryToken: "query-token-sentinel",
  bodyPassword: "body-password-sentinel",
  customKey: "custom-header-sentinel",
  authorization: "authorization-sentinel",
  urlPassword: "url-password-sentinel",
  signature: "signature-sentinel",
};

/** Every row the run wrote, as text. */
async function storedText(executionId: string): Promise<string> {
  const { rows: logs } = await pool.query(
    "SELECT input, output, error FROM workflow_execution_logs WHERE execution_id = $1",
    [executionId],
  );
  const { rows: executions } = await pool.query(
    "SELECT output, error FROM workflow_executions WHERE id = $1",
    [executionId],
  );
  return JSON.stringify([logs, executions]);
}

describe("secrets in step logs and outputs", () => {
  it("masks secret query parameters, body fields, request and response headers, URL passwords and errors", async () => {
    const t = (name: keyof typeof SENTINELS) => `{{@t:Start.${name}}}`;
    const { executionId } = await createPending(
      pool,
      workflow(
        [
          trigger(),
          action("call", "HTTP Request", {
            endpoint: `${server.base}/headers?token=${t("queryToken")}&page=2`,
            httpMethod: "POST",
            httpHeaders: { "X-Custom-Key": t("customKey"), Authorization: `Bearer ${t("authorization")}` },
            httpBody: { user: "ada", password: t("bodyPassword") },
            httpQueryParams: JSON.stringify({ signature: t("signature") }),
          }),
          // Node's fetch refuses credentials in a URL: the step fails, and its error names the URL.
          action("with-credentials", "HTTP Request", {
            endpoint: `http://ada:${t("urlPassword")}@127.0.0.1:1/`,
          }),
        ],
        edges("t->call", "t->with-credentials"),
      ),
      SENTINELS,
    );
    const { logger, lines } = capturedLogger();

    const result = await runExecution(pool, executionId, { logger, stepTimeoutMs: 10_000 });

    expect(result.status).toBe("error");
    const stored = await storedText(executionId);
    for (const [name, sentinel] of Object.entries(SENTINELS)) {
      expect(stored, name).not.toContain(sentinel);
      expect(lines.join(""), name).not.toContain(sentinel);
    }
    expect(stored).not.toContain("cookie-sentinel");
    // What was masked is still recognisable, and what is not a secret is kept.
    expect(stored).toContain("[redacted]");
    expect(stored).toContain("page=2");
    expect(stored).toContain('"user":"ada"');
  });
});
