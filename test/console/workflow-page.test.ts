import { beforeAll, describe, expect, it } from "vitest";
import { createExecution, getExecution } from "../../services/db/executions.js";
import { getWorkflow } from "../../services/db/workflows.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs } from "../helpers/sqs.js";
import {
  formToken,
  postAsPage,
  request,
  startTestConsole,
  storeWorkflow as storeWorkflowIn,
} from "./fixtures.js";

/** The console's page of one workflow (/workflows/<id>), over the file's own database and queues. */

const db = await createTestDatabase();
const testSqs = await createTestSqs();
const queues = await testSqs.createQueues();
const base = (await startTestConsole(db, testSqs, queues)).url;

const storeWorkflow = (name: string, cron?: string, timezone?: string) =>
  storeWorkflowIn(db.pool, name, cron, timezone);

/** A finished run created `hoursAgo` hours before now, with its outcome and duration. */
async function pastRun(workflowId: string, hoursAgo: number, status: string, durationMs: number) {
  const id = await createExecution(db.pool, { workflowId, triggerType: "manual" });
  await db.pool.query(
    `UPDATE workflow_executions SET status = $2, duration_ms = $3::int,
       created_at = now() - make_interval(hours => $4::int), started_at = now() - make_interval(hours => $4::int),
       completed_at = now() - make_interval(hours => $4::int) + make_interval(secs => $3::int / 1000.0)
     WHERE id = $1`,
    [id, status, durationMs, hoursAgo],
  );
  return id;
}

const slotsOf = (body: string) =>
  [...(/<ol class="slots">(.*?)<\/ol>/s.exec(body)?.[1] ?? "").matchAll(/datetime="([^"]+)"/g)].map(
    (m) => new Date(m[1] as string),
  );

let scheduled: string;

beforeAll(async () => {
  scheduled = await storeWorkflow("Every five minutes", "*/5 * * * *", "Europe/Berlin");
  await pastRun(scheduled, 2, "success", 1200);
  await pastRun(scheduled, 2, "error", 300);
  await pastRun(scheduled, 5, "success", 2500);
  await pastRun(scheduled, 72, "success", 900);
  await pastRun(scheduled, 24 * 9, "error", 100);
});

describe("the workflow page", () => {
  it("shows the schedule in words, the next 5 slots, the definition graph, the charts and the latest runs", async () => {
    const page = await request(base, `/workflows/${scheduled}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>Every five minutes</h1>");
    expect(page.body).toContain("Every 5 minutes (Europe/Berlin) <code>*/5 * * * *</code>");
    const slots = slotsOf(page.body);
    expect(slots).toHaveLength(5);
    expect(slots[0]?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    for (const [index, slot] of slots.entries()) {
      expect(slot.getUTCMinutes() % 5).toBe(0);
      if (index > 0) expect(slot.getTime() - (slots[index - 1] as Date).getTime()).toBe(300_000);
    }
    for (const node of ["t", "a", "b"]) expect(page.body).toContain(`data-node="${node}"`);
    expect(page.body).toMatch(/class="state">Schedule trigger<\/text>/);
    expect(page.body).toMatch(/class="state">Condition<\/text>/);
    // The charts: the day has the runs of 2 and 5 hours ago, the week also the one of 3 days ago, not 9.
    expect(page.body).toContain(
      "<figcaption>Last 24 hours: 3 runs (2 success, 1 error); slowest 2.50s.</figcaption>",
    );
    expect(page.body).toContain(
      "<figcaption>Last 7 days: 4 runs (3 success, 1 error); slowest 2.50s.</figcaption>",
    );
    const day = /<figure class="runs" data-window="day">(.*?)<\/figure>/s.exec(page.body)?.[1] ?? "";
    const perBucket = [...day.matchAll(/<g class="bucket" data-runs="(\d+)">/g)].map((m) => Number(m[1]));
    expect(perBucket).toHaveLength(24);
    expect(perBucket.filter((n) => n > 0).sort()).toEqual([1, 2]);
    expect(day).toMatch(/<rect class="bar bar-error"/);
    // The latest runs: the executions list's rows, newest first, kept live for this workflow.
    const rows = [...page.body.matchAll(/<tr data-id="([0-9a-z]{21})"/g)];
    expect(rows).toHaveLength(5);
    expect(page.body).toContain(`data-feed="/executions/events?workflow=${scheduled}&amp;since=`);
    expect(page.body).toContain(`href="/executions?workflow=${scheduled}">All runs of this workflow`);
  });

  it("a manual workflow: no schedule, no slots, an empty chart that says so", async () => {
    const manual = await storeWorkflow("Only by hand");
    const page = await request(base, `/workflows/${manual}`);
    expect(page.body).toContain("Manual: runs only when triggered");
    expect(slotsOf(page.body)).toEqual([]);
    expect(page.body).toContain("<figcaption>Last 24 hours: no runs.</figcaption>");
    expect(page.body).toContain('<td colspan="8">No runs yet.</td>');
  });

  it("a hostile workflow name and description are text, never markup", async () => {
    const hostile = await storeWorkflow(`<script>alert("x")</script><img src=x onerror=alert(1)>`);
    await db.pool.query("UPDATE workflows SET description = $2 WHERE id = $1", [hostile, "</dd><b>bold</b>"]);
    const page = await request(base, `/workflows/${hostile}`);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain("<script>alert");
    expect(page.body).not.toContain("<img src=x");
    expect(page.body).not.toContain("<b>bold</b>");
    expect(page.body).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(page.body).toContain("&lt;/dd&gt;&lt;b&gt;bold&lt;/b&gt;");
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'self'/);
    const rebound = await request(base, `/workflows/${hostile}`, { headers: { host: "evil.test" } });
    expect(rebound.status).toBe(421);
  });

  it("an unknown workflow is a 404 page; the workflows list and an execution page link to the workflow page", async () => {
    const missing = await request(base, "/workflows/nosuchworkflow");
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("workflow nosuchworkflow does not exist");
    expect((await request(base, "/workflows")).body).toContain(
      `<a href="/workflows/${scheduled}">Every five minutes</a>`,
    );
    const id = await createExecution(db.pool, { workflowId: scheduled, triggerType: "manual" });
    expect((await request(base, `/executions/${id}`)).body).toContain(
      `<dd><a href="/workflows/${scheduled}">Every five minutes</a></dd>`,
    );
  });
});

describe("the workflow page's actions", () => {
  it("a POST without the form token, or from another site, is refused and changes nothing", async () => {
    const token = await formToken(base);
    const path = `/workflows/${scheduled}/disable?from=workflow`;
    const refused = await Promise.all([
      request(base, path, { form: {} }),
      request(base, path, { form: { token: "forged" } }),
      request(base, path, { headers: { "sec-fetch-site": "cross-site" }, form: { token } }),
      request(base, `/workflows/${scheduled}/trigger`, { form: {} }),
    ]);
    expect(refused.map((answer) => answer.status)).toEqual([403, 403, 403, 403]);
    expect((await getWorkflow(db.pool, scheduled))?.enabled).toBe(true);
    expect(slotsOf((await request(base, `/workflows/${scheduled}`)).body)).toHaveLength(5);
  });

  it("its buttons post with the token; Trigger now creates a pending execution the page then lists", async () => {
    const page = await request(base, `/workflows/${scheduled}`);
    const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] as string;
    expect(page.body).toContain(`action="/workflows/${scheduled}/trigger"`);
    expect(page.body).toContain(`action="/workflows/${scheduled}/disable?from=workflow"`);
    const triggered = await postAsPage(base, `/workflows/${scheduled}/trigger`, token);
    const executionId = /^\/executions\/([0-9a-z]{21})\?notice=triggered$/.exec(
      triggered.headers.location ?? "",
    )?.[1] as string;
    expect(executionId).toBeDefined();
    expect(await getExecution(db.pool, executionId)).toMatchObject({
      status: "pending",
      trigger_type: "manual",
    });
    expect((await request(base, `/workflows/${scheduled}`)).body).toContain(
      `<tr data-id="${executionId}" data-status="pending"`,
    );
  });

  it("Disable comes back to the page, which then shows no next slots; Enable brings them back", async () => {
    const token = await formToken(base);
    const disabled = await postAsPage(base, `/workflows/${scheduled}/disable?from=workflow`, token);
    expect(disabled.status).toBe(303);
    expect(disabled.headers.location).toBe(`/workflows/${scheduled}?notice=disabled&id=${scheduled}`);
    const off = await request(base, disabled.headers.location as string);
    expect(off.body).toContain(`Disabled workflow <code>${scheduled}</code>`);
    expect(off.body).toContain("none: the workflow is disabled");
    expect(slotsOf(off.body)).toEqual([]);
    expect(off.body).toContain(`action="/workflows/${scheduled}/enable?from=workflow"`);
    const enabled = await postAsPage(base, `/workflows/${scheduled}/enable?from=workflow`, token);
    expect(enabled.headers.location).toBe(`/workflows/${scheduled}?notice=enabled&id=${scheduled}`);
    expect(slotsOf((await request(base, `/workflows/${scheduled}`)).body)).toHaveLength(5);
    // From the list, the list stays where it was.
    const fromList = await postAsPage(base, `/workflows/${scheduled}/disable`, token);
    expect(fromList.headers.location).toBe(`/workflows?notice=disabled&id=${scheduled}`);
  });
});
