import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createExecution } from "../../services/db/executions.js";
import { createWorkflow, getWorkflow } from "../../services/db/workflows.js";
import { nextSlotAfter } from "../../services/scheduling/cron.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import { scaled } from "../helpers/wait.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { ARTIFACTS, haveChromium, launchChromium, requireChromiumInCi } from "./chromium.js";
import { startTestConsole } from "./fixtures.js";

/**
 * The workflow page in Debian's chromium (playwright-core, as browser.test.ts drives it): at 1280 and 400
 * px it fits, its charts are drawn with readable labels, the page breaks no CSP rule, and its buttons post
 * (with the form token) from the browser. Screenshots in .artifacts/console/ (gitignored). Without chromium
 * the file is skipped, except in CI, where that is a failure.
 */

requireChromiumInCi();

describe.skipIf(!haveChromium)("the workflow page in a browser", () => {
  let browser: Browser;
  let base: string;
  let pool: Awaited<ReturnType<typeof createTestDatabase>>["pool"];
  let id: string;

  /** Runs of every outcome over the last week, some in the last day. */
  async function seedRuns(workflowId: string): Promise<void> {
    const outcomes = ["success", "success", "error", "success", "cancelled", "success"];
    for (let hoursAgo = 1; hoursAgo < 160; hoursAgo += 5) {
      const run = await createExecution(pool, { workflowId, triggerType: "manual" });
      await pool.query(
        `UPDATE workflow_executions SET status = $2, duration_ms = $3::int,
           created_at = now() - make_interval(hours => $4::int), started_at = now() - make_interval(hours => $4::int),
           completed_at = now() - make_interval(hours => $4::int) + make_interval(secs => $3::int / 1000.0)
         WHERE id = $1`,
        [run, outcomes[hoursAgo % outcomes.length], 200 + ((hoursAgo * 137) % 3000), hoursAgo],
      );
    }
  }

  beforeAll(async () => {
    const db = await createTestDatabase();
    pool = db.pool;
    const sqs = await createTestSqs();
    const queues = await sqs.createQueues();
    const cron = "*/5 * * * *";
    const definition = validateWorkflow(
      workflow(
        [
          trigger("t", { triggerType: "Schedule", scheduleCron: cron, scheduleTimezone: "Europe/Berlin" }),
          action("fetch", "HTTP Request", { endpoint: "http://127.0.0.1:9/prices" }, { label: "Get Prices" }),
          action("check", "Condition", { condition: "1 === 1" }, { label: "Price above the threshold" }),
          action("audit", "Condition", { condition: "true" }, { label: "Audit" }),
        ],
        edges("t->fetch", "fetch->check", "t->audit"),
        "Watch the price of a token every five minutes",
      ),
    );
    const schedule = {
      cron,
      timezone: "Europe/Berlin",
      nextRunAt: nextSlotAfter(cron, "Europe/Berlin", new Date()),
    };
    id = (await createWorkflow(pool, { definition, schedule })).workflow.id;
    await seedRuns(id);
    base = (await startTestConsole(db, sqs, queues)).url;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** The page, and the CSP violations it reports (none is allowed). */
  async function open(where: string, width: number): Promise<{ page: Page; violations: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    page.setDefaultTimeout(scaled(15_000));
    const violations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(`${base}${where}`);
    return { page, violations };
  }

  const fits = (page: Page) =>
    page.evaluate<boolean>("document.documentElement.scrollWidth <= document.documentElement.clientWidth");

  /** The smallest rendered height of the charts' labels, px (what a person reads, after scaling). */
  const smallestChartLabel = (page: Page) =>
    page.evaluate<number>(
      "Math.min(...[...document.querySelectorAll('figure.runs text')].map((t) => t.getBoundingClientRect().height))",
    );

  it.each([1280, 400])(
    "at %i px: fits, draws both charts with readable labels and the graph, breaks no CSP rule",
    async (width) => {
      const { page, violations } = await open(`/workflows/${id}`, width);
      expect(await page.locator("h1").textContent()).toBe("Watch the price of a token every five minutes");
      expect(await page.locator("nav[aria-label=Main] a[aria-current=page]").textContent()).toBe("Workflows");
      expect(await fits(page), `the workflow page at ${width} px`).toBe(true);
      const charts = page.locator("figure.runs svg");
      expect(await charts.count()).toBe(2);
      for (const chart of await charts.all()) {
        const box = await chart.boundingBox();
        expect(box?.width ?? 0).toBeGreaterThan(300);
        expect(await chart.locator("rect.bar").count()).toBeGreaterThan(3);
      }
      expect(await page.locator("figure.runs rect.bar-error").count()).toBeGreaterThan(0);
      expect(await smallestChartLabel(page)).toBeGreaterThanOrEqual(10);
      expect(await page.locator('figure.graph g.node[data-node="check"]').count()).toBe(1);
      expect(await page.locator("[data-slots] li").count()).toBe(5);
      expect(await page.locator("table.executions tbody tr[data-id]").count()).toBe(10);
      await page.screenshot({ path: path.join(ARTIFACTS, `workflow-one-${width}.png`), fullPage: true });
      await page
        .locator(".charts")
        .screenshot({ path: path.join(ARTIFACTS, `workflow-charts-${width}.png`) });
      expect(violations).toEqual([]);
      await page.close();
    },
  );

  it("its Disable button posts from the browser and comes back with no next slots; Enable brings them back", async () => {
    const { page } = await open(`/workflows/${id}`, 400);
    await Promise.all([
      page.waitForURL(/notice=disabled/),
      page.locator("button", { hasText: "Disable" }).click(),
    ]);
    expect(await page.locator("[data-slots]").textContent()).toBe("none: the workflow is disabled");
    expect((await getWorkflow(pool, id))?.enabled).toBe(false);
    await Promise.all([
      page.waitForURL(/notice=enabled/),
      page.locator("button", { hasText: "Enable" }).click(),
    ]);
    expect(await page.locator("[data-slots] li").count()).toBe(5);
    await page.close();
  });

  it("the workflows list links a workflow's name to its page", async () => {
    const { page } = await open("/workflows", 1280);
    await Promise.all([
      page.waitForURL(new RegExp(`/workflows/${id}$`)),
      page.getByRole("link", { name: "Watch the price of a token every five minutes", exact: true }).click(),
    ]);
    expect(await page.locator("h1").textContent()).toBe("Watch the price of a token every five minutes");
    await page.close();
  });
});
