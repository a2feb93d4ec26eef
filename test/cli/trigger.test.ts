import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { parseWorkflowMessage } from "../../services/contracts/message.js";
import { silentLogger } from "../../services/core/logger.js";
import { getExecution } from "../../services/db/executions.js";
import { startExecutor } from "../../services/executor/executor.js";
import { builtRunner, spawnCli } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { createPending, startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

const { pool, url } = await createTestDatabase();
const testSqs = await createTestSqs();
const server = await startTestServer();

const httpWorkflow = (endpoint: string) =>
  workflow([trigger(), action("get", "HTTP Request", { endpoint })], edges("t->get"));

describe("khctl trigger", () => {
  it("creates a manual execution, enqueues it with its input, and prints the id", async () => {
    const { queueUrl, env } = await testSqs.createQueues();
    const { workflowId } = await createPending(pool, httpWorkflow(`${server.base}/`));
    const result = await spawnCli(["trigger", workflowId, "--input", '{"who": "test"}'], {
      ...env,
      DATABASE_URL: url,
    }).result;
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const executionId = result.stdout.trim();
    expect(await getExecution(pool, executionId)).toMatchObject({
      workflow_id: workflowId,
      trigger_type: "manual",
      status: "pending",
      input: { who: "test" },
    });
    const { Messages = [] } = await testSqs.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((m) => parseWorkflowMessage(m.Body ?? ""))).toEqual([
      expect.objectContaining({ executionId, workflowId, triggerType: "manual", input: { who: "test" } }),
    ]);
  });

  it("--wait follows the run to its end: exit 0 with the step table on success, 1 when it failed", async () => {
    const { queueUrl, env } = await testSqs.createQueues();
    const executor = startExecutor({
      pool,
      sqs: testSqs.sqs,
      queueUrl,
      logger: silentLogger,
      waitTimeSeconds: 1,
      runner: builtRunner({ DATABASE_URL: url }),
    });
    afterAll(() => executor.stop());
    const ok = await createPending(pool, httpWorkflow(`${server.base}/`));
    const bad = await createPending(pool, httpWorkflow(`${server.base}/status/500`));
    const [good, failed] = await Promise.all([
      spawnCli(["trigger", ok.workflowId, "--wait", "--timeout", "60"], { ...env, DATABASE_URL: url }).result,
      spawnCli(["trigger", bad.workflowId, "--wait", "--timeout", "60"], { ...env, DATABASE_URL: url })
        .result,
    ]);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/Status\s+success/);
    expect(good.stdout).toMatch(/get .*success/);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/Status\s+error/);
    expect(failed.stderr).toMatch(/khctl: execution [0-9a-z]{21} ended error/);
  });

  it("refuses an unknown workflow (exit 1) and bad --input (exit 2) with one clear line", async () => {
    const { env } = await testSqs.createQueues();
    const unknown = await spawnCli(["trigger", "nosuchworkflow0000000"], { ...env, DATABASE_URL: url })
      .result;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'khctl: no workflow with the id or name "nosuchworkflow0000000" (khctl workflow list shows them)\n',
    );
    const badInput = await spawnCli(["trigger", "x", "--input", "[1]"], { ...env, DATABASE_URL: url }).result;
    expect(badInput.code).toBe(2);
    expect(badInput.stderr).toMatch(/--input must be a JSON object/);
  });
});
