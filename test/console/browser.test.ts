import path from "node:path";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../services/core/logger.js";
import { recordStepEnd } from "../../services/db/execution-logs.js";
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
import { ARTIFACTS, haveChromium, launchChromium, requireChromiumInCi } from "./chromium.js";
import { startTestConsole } from "./fixtures.js";

/**
 * The console in a real browser: Debian's chromium driven by playwright-core (no browser download; .ci/run
 * installs chromium), against a console over the file's embedded Postgres and fauxqs, with the real
 * executor running `khctl run` children. Screenshots of each page are kept in .artifacts/console/
 * (gitignored). Without chromium the file is skipped, except in CI, where that is a failure.
 */

requireChromiumInCi();

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
    browser = await launchChromium();
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
      ["/search?q=a", "Search"],
    ] as const;
    for (const [where, title] of pages) {
      for (const viewport of [
        { width: 1280, height: 800 },
        { width: 400, height: 800 },
      ]) {
        const page = await open(where, viewport);
        expect(await page.locator("h1").textContent()).toBe(title);
        // The search is under no entry of the navigation.
        const current = page.locator("nav[aria-label=Main] a[aria-current=page]");
        expect(await current.count()).toBe(title === "Search" ? 0 : 1);
        expect(await fits(page), `${where} at ${viewport.width} px`).toBe(true);
        const section = where.split("?")[0]?.split("/") ?? [];
        const name = `${section[1]}${section.length > 2 ? "-one" : ""}-${viewport.width}.png`;
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

  /** A failed run of the 4-node workflow with its steps recorded: a long error, an input, an output. */
  async function failedRunWithSteps(): Promise<string> {
    const id = await createExecution(pool, { workflowId: failing, triggerType: "manual" });
    const error = `HTTP 500 from the orders API: ${"the upstream said no; ".repeat(12)}\nretry later`;
    await pool.query(
      "UPDATE workflow_executions SET status = 'error', error = $2, started_at = now(), completed_at = now(), duration_ms = 40 WHERE id = $1",
      [id, error],
    );
    const at = new Date();
    const step = { executionId: id, startedAt: at, completedAt: at, durationMs: 12 };
    const steps = [
      { nodeId: "t", nodeName: "Start", nodeType: "trigger", status: "success" as const, output: { at } },
      {
        nodeId: "fetch",
        nodeName: "Fetch orders",
        nodeType: "HTTP Request",
        status: "error" as const,
        error,
      },
      { nodeId: "audit", nodeName: "Audit", nodeType: "Condition", status: "success" as const, output: true },
    ];
    for (const one of steps) await recordStepEnd(pool, { ...step, ...one, input: { endpoint: "/orders" } });
    return id;
  }

  it("the execution page at 400 px: no sideways scroll, steps as cards without empty space, graph labels >= 11 px", async () => {
    const id = await failedRunWithSteps();
    for (const width of [400, 1280]) {
      const page = await open(`/executions/${id}`, { width, height: 800 });
      await page.locator("table.steps").waitFor();
      expect(
        await page.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth"),
        `execution page at ${width} px`,
      ).toBe(true);
      // Rendered label size: the SVG's scale times its font size (a scaled-down graph shrinks them).
      const smallest =
        await page.evaluate<number>(`Math.min(...[...document.querySelectorAll("figure.graph text")]
        .map((t) => t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize)))`);
      expect(smallest, `graph label px at ${width} px`).toBeGreaterThanOrEqual(11);
      const stepsFit = `(() => { const e = document.querySelector('[role=region][aria-label="Steps"]'); return e.scrollWidth <= e.clientWidth; })()`;
      expect(await page.evaluate<boolean>(stepsFit), `steps at ${width} px`).toBe(true);
      if (width === 400) {
        // A card is as tall as what it shows (its lines, padding and border), with no empty space.
        const slack = await page.evaluate<
          number[]
        >(`[...document.querySelectorAll("table.steps tbody tr")].map((tr) =>
          tr.getBoundingClientRect().height -
          [...tr.children].reduce((sum, cell) => sum + cell.getBoundingClientRect().height, 0))`);
        expect(slack).toHaveLength(3);
        for (const gap of slack) expect(gap).toBeLessThan(24);
      }
      await page.screenshot({ path: path.join(ARTIFACTS, `execution-steps-${width}.png`), fullPage: true });
      await page.close();
    }
  });

  it("the whole error opens from the list, without script", async () => {
    const id = await failedRunWithSteps();
    const context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 400, height: 800 },
    });
    const page = await context.newPage();
    await page.goto(`${base}/executions?workflow=${failing}`);
    const row = page.locator(`tr[data-id="${id}"]`);
    expect(await row.locator("details.error-more pre").isVisible()).toBe(false);
    await row.locator("details.error-more summary").click();
    expect(await row.locator("details.error-more pre").textContent()).toMatch(
      /the upstream said no; \nretry later$/,
    );
    expect(await row.locator("details.error-more pre").isVisible()).toBe(true);
    expect(await fits(page)).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, "executions-error-open-400.png"), fullPage: true });
    await context.close();
  });

  it("filters apply on change; without script the Filter button applies them", async () => {
    await failedRunWithSteps();
    const page = await open("/executions");
    await Promise.all([
      page.waitForURL(/[?&]status=error/),
      page.locator("select[name=status]").selectOption("error"),
    ]);
    expect(await page.locator("tbody tr[data-id]").count()).toBeGreaterThan(0);
    expect(await page.locator('tbody tr[data-id]:not([data-status="error"])').count()).toBe(0);
    await Promise.all([
      page.waitForURL(new RegExp(`workflow=${failing}`)),
      page.locator("select[name=workflow]").selectOption(failing),
    ]);
    expect(page.url()).toMatch(/status=error/);
    await page.close();

    const context = await browser.newContext({ javaScriptEnabled: false });
    const plain = await context.newPage();
    await plain.goto(`${base}/executions`);
    await plain.locator("select[name=status]").selectOption("error");
    expect(plain.url()).toBe(`${base}/executions`);
    await Promise.all([
      plain.waitForURL(/[?&]status=error/),
      plain.locator("button", { hasText: "Filter" }).click(),
    ]);
    await context.close();
  });

  it("search from the header box: a name lists the workflow, an exact execution id opens it", async () => {
    const id = await failedRunWithSteps();
    for (const width of [1280, 400]) {
      const page = await open("/workflows", { width, height: 800 });
      const box = page.getByRole("searchbox", { name: "Workflow name or execution id" });
      await box.fill("broken api");
      await Promise.all([page.waitForURL(/\/search\?q=broken\+api$/), box.press("Enter")]);
      expect(await page.locator("h1").textContent()).toBe("Search");
      expect(await page.locator(`a[href="/executions?workflow=${failing}"]`).count()).toBe(1);
      expect(await page.locator(`a[href="/executions?workflow=${hello}"]`).count()).toBe(0);
      expect(await fits(page)).toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, `search-results-${width}.png`), fullPage: true });
      await page.getByRole("searchbox").fill(id);
      await Promise.all([
        page.waitForURL(new RegExp(`/executions/${id}$`)),
        page.getByRole("searchbox").press("Enter"),
      ]);
      expect(await page.locator("h1").textContent()).toBe(`Execution ${id}`);
      await page.close();
    }
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
