import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../services/core/logger.js";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { type Executor, startExecutor } from "../../services/executor/index.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { builtRunner } from "../helpers/cli-process.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled, until } from "../helpers/wait.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { startTestConsole } from "./fixtures.js";

/**
 * The console in a real browser: Debian's chromium driven by playwright-core (no browser download; .ci/run
 * installs chromium), against a console over the file's embedded Postgres and fauxqs, with the real
 * executor running `khctl run` children. Screenshots of each page are kept in .artifacts/console/
 * (gitignored). Without chromium the file is skipped, except in CI, where that is a failure.
 */

/** CHROMIUM_PATH, else Debian's chromium. */
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const ARTIFACTS = path.join(import.meta.dirname, "..", "..", ".artifacts", "console");

it.runIf(!haveChromium && process.env.CI)("CI has chromium for the browser tests", () => {
  throw new Error(`no browser at ${CHROMIUM}: .ci/run installs Debian's chromium (apt-get install chromium)`);
});

describe.skipIf(!haveChromium)("the console in a browser", () => {
  let browser: Browser;
  let executor: Executor;
  let base: string;
  let hello: string;
  let failing: string;
  let queueUrls: { queueUrl: string; deadLetterQueueUrl: string };
  let sqs: Awaited<ReturnType<typeof createTestSqs>>;
  let pool: Awaited<ReturnType<typeof createTestDatabase>>["pool"];

  beforeAll(async () => {
    const db = await createTestDatabase();
    pool = db.pool;
    sqs = await createTestSqs();
    const queues = await sqs.createQueues();
    queueUrls = queues;
    const server = await startTestServer();
    const store = async (name: string, nodes: unknown[], links: string[]) =>
      (await createWorkflow(pool, { definition: validateWorkflow(workflow(nodes, edges(...links), name)) }))
        .workflow.id;
    hello = await store(
      "Say hello",
      [trigger(), action("greet", "HTTP Request", { endpoint: `${server.base}/json` }, { label: "Greet" })],
      ["t->greet"],
    );
    failing = await store(
      "Call a broken API",
      [
        trigger(),
        action("fetch", "HTTP Request", { endpoint: `${server.base}/status/500` }, { label: "Fetch orders" }),
        action("check", "Condition", { condition: "1 === 1" }, { label: "Check orders" }),
        action("audit", "Condition", { condition: "true" }, { label: "Audit" }),
      ],
      ["t->fetch", "fetch->check", "t->audit"],
    );
    base = (await startTestConsole(db, sqs, queues)).url;
    executor = startExecutor({
      pool,
      sqs: sqs.sqs,
      queueUrl: queues.queueUrl,
      deadLetterQueueUrl: queues.deadLetterQueueUrl,
      logger: createLogger("executor", { LOG_LEVEL: "warn" }),
      waitTimeSeconds: 1,
      runner: builtRunner({ DATABASE_URL: db.url }),
    });
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, timeout: scaled(20_000) });
  });

  afterAll(async () => {
    await browser?.close();
    await executor?.stop({ timeoutMs: 5_000 });
  });

  async function open(path: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    page.setDefaultTimeout(scaled(15_000));
    await page.goto(`${base}${path}`);
    return page;
  }

  /** No horizontal scroll on the page itself (wide tables scroll inside their own region). */
  const fits = (page: Page) =>
    page.evaluate<boolean>("document.documentElement.scrollWidth <= document.documentElement.clientWidth");

  it("loads every page, fits 1280x800 and a 400 px window, and keeps a screenshot of each", async () => {
    const execution = await createExecution(pool, { workflowId: hello, triggerType: "manual" });
    const pages = [
      ["/workflows", "Workflows"],
      ["/executions", "Executions"],
      [`/executions/${execution}`, `Execution ${execution}`],
      ["/queue", "Queue"],
      ["/health", "Health"],
    ] as const;
    for (const [where, title] of pages) {
      for (const viewport of [
        { width: 1280, height: 800 },
        { width: 400, height: 800 },
      ]) {
        const page = await open(where, viewport);
        expect(await page.locator("h1").textContent()).toBe(title);
        expect(await page.locator("nav[aria-label=Main] a[aria-current=page]").count()).toBe(1);
        expect(await fits(page), `${where} at ${viewport.width} px`).toBe(true);
        const name = `${where.split("/")[1]}${where.split("/").length > 2 ? "-one" : ""}-${viewport.width}.png`;
        await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
        await page.close();
      }
    }
  });

  it("trigger with the keyboard: the live list shows the run appear and finish without a reload", async () => {
    const list = await open(`/executions?workflow=${hello}`);
    // A mark that a reload would wipe out (page scripts as strings: the tests are type-checked without the DOM).
    await list.evaluate("window.notReloaded = true");
    await list.locator("[data-live-status]").filter({ hasText: "Live" }).waitFor();

    const workflows = await open("/workflows");
    const button = `form[action="/workflows/${hello}/trigger"] button`;
    // Tab from the top of the page to the button, as a keyboard user would, then press Enter.
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await workflows.keyboard.press("Tab");
      reached = await workflows.evaluate<boolean>(
        `document.activeElement === document.querySelector(${JSON.stringify(button)})`,
      );
    }
    expect(reached).toBe(true);
    await Promise.all([
      workflows.waitForURL(/\/executions\/[0-9a-z]{21}\?notice=triggered$/),
      workflows.keyboard.press("Enter"),
    ]);
    const id = /\/executions\/([0-9a-z]{21})/.exec(workflows.url())?.[1] as string;
    await expect(workflows.locator(".notice").textContent()).resolves.toContain("Triggered");

    await list.locator(`tr[data-id="${id}"]`).waitFor();
    await list.locator(`tr[data-id="${id}"] .status-success`).waitFor({ timeout: scaled(30_000) });
    expect(await list.evaluate<boolean>("window.notReloaded === true")).toBe(true);
    await list.screenshot({ path: path.join(ARTIFACTS, "executions-live.png"), fullPage: true });
  });

  it("a failed run: its execution page marks the failed node, live, with the error", async () => {
    const workflows = await open("/workflows");
    await Promise.all([
      workflows.waitForURL(/\/executions\/[0-9a-z]{21}/),
      workflows.locator(`form[action="/workflows/${failing}/trigger"] button`).click(),
    ]);
    const failed = workflows.locator('g.node.step-error[data-node="fetch"]');
    await failed.waitFor({ timeout: scaled(30_000) });
    // The node is marked as soon as its step fails; the other branch may still be running until the end.
    await workflows.locator('#execution[data-status="error"]').waitFor({ timeout: scaled(30_000) });
    expect(await failed.locator(".state").textContent()).toBe("error");
    expect(await workflows.locator('g.node.step-success[data-node="audit"]').count()).toBe(1);
    expect(await workflows.locator('g.node[data-node="check"]').getAttribute("class")).not.toContain(
      "step-success",
    );
    await workflows.locator(".status-error").first().waitFor();
    expect(await workflows.locator("dl.facts").textContent()).toMatch(/Error.*500/s);
    expect(await workflows.locator('tr[data-node="fetch"] .status-error').count()).toBe(1);
    await workflows.screenshot({ path: path.join(ARTIFACTS, "execution-failed.png"), fullPage: true });
  });

  it("redrives a dead letter from the queue page: it goes back to the queue and its run happens", async () => {
    const executionId = await createExecution(pool, {
      workflowId: hello,
      triggerType: "manual",
      enqueued: true,
    });
    const body = JSON.stringify({
      executionId,
      workflowId: hello,
      scheduleId: null,
      triggerType: "manual",
      triggerTime: new Date().toISOString(),
    });
    await sqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrls.deadLetterQueueUrl, MessageBody: body }));
    const queue = await open("/queue");
    const row = queue.locator("table.letters tbody tr");
    expect(await row.count()).toBe(1);
    expect(await row.locator("a").textContent()).toBe(`execution ${executionId}`);
    await queue.screenshot({ path: path.join(ARTIFACTS, "queue-dlq.png"), fullPage: true });
    await Promise.all([
      queue.waitForURL(/notice=redriven/),
      row.locator("button", { hasText: "Redrive" }).click(),
    ]);
    expect(await queue.locator(".notice").textContent()).toContain("Moved 1 message(s) back to the queue.");
    expect(await queue.locator("main").textContent()).toContain("The dead-letter queue is empty.");
    const stats = await getQueueStats(sqs.sqs, queueUrls.queueUrl, queueUrls.deadLetterQueueUrl);
    expect(stats.deadLetter).toBe(0);
    await until(
      "the redriven run to finish",
      async () => (await getExecution(pool, executionId))?.status === "success",
      30_000,
    );
  });

  it("DLQ: tick messages, delete them after the confirmation page; purge asks first too (at 1280 and 400 px)", async () => {
    for (const width of [1280, 400]) {
      for (const body of [`keep ${width}`, `drop one ${width}`, `drop two ${width}`]) {
        await sqs.sqs.send(
          new SendMessageCommand({ QueueUrl: queueUrls.deadLetterQueueUrl, MessageBody: body }),
        );
      }
      const queue = await open("/queue", { width, height: 800 });
      const rows = queue.locator("table.letters tbody tr");
      expect(await rows.count()).toBe(3);
      for (const name of ["drop one", "drop two"]) {
        await rows.filter({ hasText: name }).locator('input[type="checkbox"]').check();
      }
      expect(await fits(queue), `queue at ${width} px`).toBe(true);
      await queue.screenshot({ path: path.join(ARTIFACTS, `queue-select-${width}.png`), fullPage: true });

      await Promise.all([
        queue.waitForURL(/\/queue\/selected\/delete$/),
        queue.locator("button", { hasText: "Delete selected" }).click(),
      ]);
      expect(await queue.locator("h1").textContent()).toBe("Delete dead letters?");
      expect(await queue.locator(".confirm-list li").count()).toBe(2);
      expect(await fits(queue), `delete confirmation at ${width} px`).toBe(true);
      await queue.screenshot({
        path: path.join(ARTIFACTS, `queue-confirm-delete-${width}.png`),
        fullPage: true,
      });
      // Asking deleted nothing.
      expect(
        (await getQueueStats(sqs.sqs, queueUrls.queueUrl, queueUrls.deadLetterQueueUrl)).deadLetter,
      ).toBe(3);
      await Promise.all([
        queue.waitForURL(/notice=deleted/),
        queue.locator("button", { hasText: "Delete 2 message(s)" }).click(),
      ]);
      expect(await queue.locator(".notice").textContent()).toContain("Deleted 2 message(s)");
      expect(await rows.count()).toBe(1);
      expect(await rows.first().textContent()).toContain(`keep ${width}`);

      await Promise.all([
        queue.waitForURL(/\/queue\/purge$/),
        queue.locator("button", { hasText: "Purge" }).click(),
      ]);
      expect(await queue.locator("h1").textContent()).toBe("Purge the dead-letter queue?");
      expect(await fits(queue), `purge confirmation at ${width} px`).toBe(true);
      await queue.screenshot({
        path: path.join(ARTIFACTS, `queue-confirm-purge-${width}.png`),
        fullPage: true,
      });
      await Promise.all([
        queue.waitForURL(/\/queue$/),
        queue.locator("a", { hasText: "Keep the messages" }).click(),
      ]);
      expect(await rows.count()).toBe(1);
      await queue.locator("button", { hasText: "Purge" }).click();
      await Promise.all([
        queue.waitForURL(/notice=purged/),
        queue.locator("button", { hasText: "Purge the dead-letter queue" }).click(),
      ]);
      expect(await queue.locator(".notice").textContent()).toContain("1 message(s) deleted");
      expect(await queue.locator("main").textContent()).toContain("The dead-letter queue is empty.");
      await queue.close();
    }
  });
});
