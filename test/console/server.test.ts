import http from "node:http";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../services/console/http.js";
import { runnerPodLookup } from "../../services/console/pods.js";
import { ROUTES } from "../../services/console/routes.js";
import { buildJobTemplate } from "../../services/contracts/job-template.js";
import { recordStepEnd, recordStepStart } from "../../services/db/execution-logs.js";
import { createExecution, getExecution, recordJobName } from "../../services/db/executions.js";
import { getScheduleForWorkflow } from "../../services/db/schedules.js";
import { getWorkflow } from "../../services/db/workflows.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { createKubeApi } from "../../services/spawner/kube.js";
import { createTestDatabase } from "../helpers/database.js";
import { startK8sApiServer } from "../helpers/k8s-api-server.js";
import { createTestSqs } from "../helpers/sqs.js";
import { within } from "../helpers/wait.js";
import { testKubernetesConfig } from "../spawner/fixtures.js";
import {
  formToken,
  postAsPage,
  request,
  startTestConsole,
  storeWorkflow as storeWorkflowIn,
} from "./fixtures.js";

const db = await createTestDatabase();
const testSqs = await createTestSqs();
const queues = await testSqs.createQueues();
const PAGE_SIZE = 20;
const web = await startTestConsole(db, testSqs, queues, { pageSize: PAGE_SIZE });
const base = web.url;

const storeWorkflow = (name: string, cron?: string, timezone?: string) =>
  storeWorkflowIn(db.pool, name, cron, timezone);

let scheduled: string;
let manual: string;

beforeAll(async () => {
  scheduled = await storeWorkflow("Every five minutes <b>bold</b>", "*/5 * * * *", "Europe/Berlin");
  manual = await storeWorkflow("Manual one");
});

describe("pages", () => {
  it("workflows: trigger in words with its time zone, enabled, next run, runs; names are text, never markup", async () => {
    const page = await request(base, "/workflows");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toMatch(/script-src 'self'/);
    expect(page.body).toContain("Every 5 minutes (Europe/Berlin)");
    expect(page.body).toContain("Every five minutes &lt;b&gt;bold&lt;/b&gt;");
    expect(page.body).not.toContain("<b>bold</b>");
    expect(page.body).toMatch(/<td data-label="Trigger">Manual<\/td>/);
    expect(page.body).toContain(`action="/workflows/${manual}/trigger"`);
    expect(page.body).toContain(`action="/workflows/${scheduled}/disable"`);
  });

  it("/ leads to the workflows; an unknown page or execution is a 404 page", async () => {
    expect((await request(base, "/")).headers.location).toBe("/workflows");
    const missing = await request(base, `/executions/${"x".repeat(21)}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain(`execution ${"x".repeat(21)} does not exist`);
    expect((await request(base, "/nothing")).status).toBe(404);
  });

  it("every route of the table, and every refusal, answers with the security headers", async () => {
    const workflowId = await storeWorkflow("Headers");
    const executionId = await createExecution(db.pool, { workflowId, triggerType: "manual" });
    // One concrete path per GET route (routes.ts ROUTES): a new route without one here fails this test.
    const examples: Record<string, string> = {
      "^\\/$": "/",
      "^\\/workflows$": "/workflows",
      "^\\/workflows\\/([\\w-]{1,64})$": `/workflows/${workflowId}`,
      "^\\/executions$": "/executions",
      "^\\/executions\\/([0-9a-z]{21})$": `/executions/${executionId}`,
      "^\\/search$": "/search?q=headers",
      "^\\/queue$": "/queue",
      "^\\/health$": "/health",
      "^\\/assets\\/[\\w.-]+$": "/assets/console.css",
      "^\\/favicon\\.ico$": "/favicon.ico",
    };
    const gets = ROUTES.filter((route) => route.method === "GET" && !route.path.source.includes("events"));
    expect(gets.map((route) => route.path.source).sort()).toEqual(Object.keys(examples).sort());
    const answers = [
      ...(await Promise.all(Object.values(examples).map((path) => request(base, path)))),
      await request(base, "/nothing"),
      await request(base, "/assets/other.js"),
      await request(base, `/workflows/${manual}/trigger`, { form: {} }),
      await request(base, "/workflows", { headers: { host: `evil.test:${web.port}` } }),
      await request(base, "/workflows", { method: "DELETE" }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([
      303, 200, 200, 200, 200, 200, 200, 200, 200, 204, 404, 404, 403, 421, 405,
    ]);
    for (const answer of answers) {
      expect(answer.headers["content-security-policy"]).toBe(SECURITY_HEADERS["content-security-policy"]);
      expect(answer.headers["x-frame-options"]).toBe("DENY");
      expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    }
    const head = await request(base, "/workflows", { method: "HEAD" });
    expect(head).toMatchObject({ status: 200, body: "" });
  });

  it("health: khctl status's parts, one row each, down ones marked; its times in the one format", async () => {
    await createExecution(db.pool, { workflowId: manual, triggerType: "manual" });
    const page = await request(base, "/health");
    expect(page.status).toBe(200);
    for (const part of ["dev", "postgres", "queue", "dispatcher", "executor", "executions"]) {
      expect(page.body).toContain(`data-part="${part}"`);
    }
    expect(page.body).toMatch(/data-part="postgres" data-state="ok"/);
    expect(page.body).toMatch(/data-part="queue" data-state="ok"/);
    expect(page.body).toMatch(/data-part="dev" data-state="down"/);
    expect(page.body).toContain("Down: dev, dispatcher, executor.");
    // The executions part's lines carry ISO stamps: each is a <time> as every page writes it, none raw.
    expect(page.body).toMatch(
      /<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">(now|\d+ s ago)<\/time>/,
    );
    expect(page.body.replace(/datetime="[^"]*"/g, "")).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
  });

  it("times are relative, with the absolute time on hover: the list, one execution, the workflows", async () => {
    const id = await createExecution(db.pool, { workflowId: manual, triggerType: "manual" });
    await db.pool.query(
      "UPDATE workflow_executions SET created_at = now() - interval '150 seconds' WHERE id = $1",
      [id],
    );
    const created = (await getExecution(db.pool, id))?.created_at as Date;
    const markup = `<time datetime="${created.toISOString()}" title="${created.toISOString().slice(0, 19).replace("T", " ")} UTC">2 min ago</time>`;
    expect((await request(base, `/executions?workflow=${manual}`)).body).toContain(markup);
    expect((await request(base, `/executions/${id}`)).body).toContain(`<dt>Created</dt><dd>${markup}</dd>`);
    expect((await request(base, "/workflows")).body).toMatch(
      /title="[\d-]+ [\d:]+ UTC">in \d+ (s|min)<\/time>/,
    );
  });
});

describe("executions", () => {
  it("a page at a time, newest first, with filters; pages are disjoint even when many share a created_at", async () => {
    const many = await storeWorkflow("Many runs");
    const ids: string[] = [];
    for (let i = 0; i < PAGE_SIZE + 7; i++) {
      ids.push(await createExecution(db.pool, { workflowId: many, triggerType: "manual" }));
    }
    // The same instant for all (microseconds included): the cursor's id must break the tie.
    await db.pool.query(
      "UPDATE workflow_executions SET created_at = '2026-01-01T00:00:00.123456Z' WHERE workflow_id = $1",
      [many],
    );
    await db.pool.query(
      "UPDATE workflow_executions SET status = 'error', error = 'boom', started_at = now(), completed_at = now() WHERE id = ANY($1)",
      [ids.slice(0, 3)],
    );

    const first = await request(base, `/executions?workflow=${many}`);
    const firstIds = [...first.body.matchAll(/<tr data-id="([0-9a-z]{21})"/g)].map((m) => m[1]);
    expect(firstIds).toHaveLength(PAGE_SIZE);
    const next = /href="(\/executions\?[^"]*before=[^"]+)" rel="next"/.exec(first.body)?.[1];
    expect(next).toBeDefined();
    const second = await request(base, (next as string).replaceAll("&amp;", "&"));
    const secondIds = [...second.body.matchAll(/<tr data-id="([0-9a-z]{21})"/g)].map((m) => m[1]);
    expect(secondIds).toHaveLength(7);
    expect(new Set([...firstIds, ...secondIds]).size).toBe(PAGE_SIZE + 7);
    expect(second.body).toContain("No older runs.");
    // An older page is not live.
    expect(second.body).not.toContain("data-feed=");

    const errors = await request(base, `/executions?workflow=${many}&status=error`);
    const errorIds = [...errors.body.matchAll(/<tr data-id="([0-9a-z]{21})"/g)].map((m) => m[1]);
    expect(errorIds.sort()).toEqual(ids.slice(0, 3).sort());
    expect(errors.body).toMatch(/<option value="error" selected>/);
  });

  it("filters: the form is sent on change by a script the console serves (no inline script); its button stays for no script", async () => {
    const page = await request(base, "/executions");
    expect(page.body).toMatch(
      /<form method="get" action="\/executions" class="filters"[^>]* data-submit-on-change>/,
    );
    expect(page.body).toContain('<button type="submit">Filter</button>');
    expect(page.body).toContain('<script src="/assets/filters.js" defer></script>');
    expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)/);
    const script = await request(base, "/assets/filters.js");
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["content-security-policy"]).toBe(SECURITY_HEADERS["content-security-policy"]);
    expect(script.body).toContain("form[data-submit-on-change]");
    expect(script.body).toContain("requestSubmit()");
  });

  it("one execution: the graph's nodes coloured by step status, values masked, the error shown", async () => {
    const id = await createExecution(db.pool, {
      workflowId: scheduled,
      triggerType: "manual",
      input: { apiKey: "sk-live-123456" },
    });
    await db.pool.query(
      "UPDATE workflow_executions SET status = 'error', error = 'step a failed: 500', started_at = now(), completed_at = now(), duration_ms = 12 WHERE id = $1",
      [id],
    );
    const at = new Date();
    const step = { executionId: id, startedAt: at, completedAt: at, durationMs: 5 };
    await recordStepStart(db.pool, {
      ...step,
      nodeId: "t",
      nodeName: "Start",
      nodeType: "trigger",
      input: {},
    });
    await recordStepEnd(db.pool, {
      ...step,
      nodeId: "t",
      nodeName: "Start",
      nodeType: "trigger",
      input: {},
      status: "success",
      output: { triggeredAt: at.toISOString() },
    });
    await recordStepEnd(db.pool, {
      ...step,
      nodeId: "a",
      nodeName: "Check",
      nodeType: "Condition",
      input: { url: "https://user:hunter2@example.test/x?token=abc" },
      status: "error",
      error: "HTTP 500 from https://example.test/?api_key=secret-value",
    });
    await recordStepEnd(db.pool, {
      ...step,
      nodeId: "b",
      nodeName: "Then",
      nodeType: "Condition",
      input: {},
      status: "skipped",
    });

    const page = await request(base, `/executions/${id}`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<g class="node step-success" data-node="t">/);
    expect(page.body).toMatch(/<g class="node step-error" data-node="a">/);
    expect(page.body).toMatch(/<g class="node step-skipped" data-node="b">/);
    expect(page.body).toContain("step a failed: 500");
    for (const secret of ["sk-live-123456", "hunter2", "secret-value", "token=abc"]) {
      expect(page.body).not.toContain(secret);
    }
    expect(page.body).toContain("[redacted]");
    // Finished: the page is not kept live.
    expect(page.body).not.toContain("data-feed=");
  });

  it("in the hybrid stack: the execution's Job and its runner pod's phase, and a line when the pod is gone or the API is not", async () => {
    const api = await startK8sApiServer();
    const hybrid = await startTestConsole(db, testSqs, queues, {
      runnerPod: runnerPodLookup(() => createKubeApi(api.kubeConfig(), { namespace: "local" })),
    });
    const id = await createExecution(db.pool, { workflowId: manual, triggerType: "manual" });
    api.putJob(buildJobTemplate({ executionId: id, workflowId: manual, config: testKubernetesConfig() }));
    await recordJobName(db.pool, id, `wf-${id}`);
    api.setPodWaiting(`wf-${id}`, "ImagePullBackOff");
    const waiting = await request(hybrid.url, `/executions/${id}`);
    expect(waiting.body).toContain(`<dt>Kubernetes Job</dt><dd><code>wf-${id}</code></dd>`);
    expect(waiting.body).toMatch(
      new RegExp(`<dt>Runner pod</dt><dd><code>wf-${id}-[a-z0-9]+</code> Pending: ImagePullBackOff</dd>`),
    );
    api.deleteJob(`wf-${id}`);
    expect((await request(hybrid.url, `/executions/${id}`)).body).toContain(
      '<dt>Runner pod</dt><dd><span class="none">none',
    );
    await api.close();
    const unreachable = await request(hybrid.url, `/executions/${id}`);
    expect(unreachable.status).toBe(200);
    expect(unreachable.body).toContain("<dt>Runner pod</dt><dd>could not be read: ");
  });

  it("the live list: an execution that appears or changes arrives as its row; a status filter says when it stops matching", async () => {
    // A workflow of its own: the feed looks a few seconds back, and would also send other tests' runs.
    const live = await storeWorkflow("Live one");
    const since = (await db.pool.query<{ now: Date }>("SELECT now() AS now")).rows[0]?.now as Date;
    const events = openEvents(
      `${base}/executions/events?workflow=${live}&status=pending&since=${since.toISOString()}`,
    );
    try {
      const id = await createExecution(db.pool, { workflowId: live, triggerType: "manual" });
      const appeared = await within(events.next(), 10_000, "the new execution's event");
      expect(appeared).toMatchObject({ id, status: "pending", matches: true });
      expect(appeared.html).toContain(`<tr data-id="${id}" data-status="pending"`);
      await db.pool.query(
        "UPDATE workflow_executions SET status = 'running', started_at = now() WHERE id = $1",
        [id],
      );
      const changed = await within(events.next(), 10_000, "the status change's event");
      expect(changed).toMatchObject({ id, status: "running", matches: false });
      expect(changed.html).toContain("status-running");
    } finally {
      events.close();
    }
  });
});

describe("search", () => {
  const ids = (body: string) => [...body.matchAll(/<tr data-id="([0-9a-z]{21})"/g)].map((m) => m[1]);

  it("by name: the workflows whose name contains the text, any case, with their last run; LIKE's wildcards are literal", async () => {
    const found = await storeWorkflow("Nightly Price Sync");
    const percent = await storeWorkflow("Sync 100% of prices");
    const page = await request(base, "/search?q=price%20SYNC");
    expect(page.status).toBe(200);
    expect(page.body).toContain("<h1>Search</h1>");
    expect(page.body).toContain(`href="/executions?workflow=${found}"`);
    expect(page.body).not.toContain(`href="/executions?workflow=${percent}"`);
    expect(page.body).not.toContain(`href="/executions?workflow=${manual}"`);
    // The box keeps the text; a name cannot start an execution id, so no executions are looked up.
    expect(page.body).toContain('name="q" value="price SYNC"');
    expect(page.body).not.toContain("<h2>Executions</h2>");
    const wildcard = await request(base, "/search?q=100%25");
    expect(wildcard.body).toContain(`href="/executions?workflow=${percent}"`);
    expect(wildcard.body).not.toContain(`href="/executions?workflow=${found}"`);
    expect((await request(base, "/search?q=_")).body).toContain("No workflow's name contains “_”");
  });

  it("by exact id: straight to the execution's page; an id that does not exist lists nothing", async () => {
    const id = await createExecution(db.pool, { workflowId: manual, triggerType: "manual" });
    const exact = await request(base, `/search?q=${id}`);
    expect(exact.status).toBe(303);
    expect(exact.headers.location).toBe(`/executions/${id}`);
    const missing = await request(base, `/search?q=${"z".repeat(21)}`);
    expect(missing.status).toBe(200);
    expect(missing.body).toContain(`No execution id starts with <code>${"z".repeat(21)}</code>`);
  });

  it("by id prefix: the executions whose id starts with it, newest first, a page at a time", async () => {
    const workflowId = await storeWorkflow("Prefix runs");
    const made: string[] = [];
    for (let i = 0; i < PAGE_SIZE + 2; i++) {
      made.push(await createExecution(db.pool, { workflowId, triggerType: "manual" }));
    }
    // Ids of our own choosing, so that exactly these start with the prefix.
    const prefix = "zzprefix";
    const renamed = made.map((_, i) => `${prefix}${String(i).padStart(13, "0")}`);
    for (const [i, id] of made.entries()) {
      await db.pool.query("UPDATE workflow_executions SET id = $2 WHERE id = $1", [id, renamed[i]]);
    }
    const first = await request(base, `/search?q=${prefix}`);
    expect(ids(first.body)).toHaveLength(PAGE_SIZE);
    expect(ids(first.body).every((id) => id?.startsWith(prefix))).toBe(true);
    const next = /href="(\/search\?[^"]*before=[^"]+)" rel="next"/.exec(first.body)?.[1];
    expect(next).toBeDefined();
    const second = await request(base, (next as string).replaceAll("&amp;", "&"));
    expect(new Set([...ids(first.body), ...ids(second.body)])).toEqual(new Set(renamed));
    // A longer prefix narrows it: the ids ending in 10 to 19.
    const narrower = `${prefix}000000000001`;
    const narrowed = ids((await request(base, `/search?q=${narrower}`)).body);
    expect(narrowed.sort()).toEqual(renamed.filter((id) => id.startsWith(narrower)).sort());
    expect(narrowed).toHaveLength(10);
  });

  it("hostile text is only text: escaped in the box, the results and the title; too long is one clear line", async () => {
    const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const page = await request(base, `/search?q=${encodeURIComponent(hostile)}`);
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toBe(SECURITY_HEADERS["content-security-policy"]);
    expect(page.body).not.toContain("<script>alert");
    expect(page.body).not.toContain("<img src=x");
    expect(page.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    const tooLong = await request(base, `/search?q=${"a".repeat(201)}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body).toContain("search for at most 200 characters (got 201)");
    const empty = await request(base, "/search?q=%20");
    expect(empty.body).toContain("Search for a workflow by its name");
  });
});

describe("errors on demand", () => {
  it("the list shows an error's first line, and the whole text opens under it (no script needed)", async () => {
    const workflowId = await storeWorkflow("Long errors");
    const id = await createExecution(db.pool, { workflowId, triggerType: "manual" });
    const error = `${"The upstream API said no. ".repeat(8)}<tail>\nSecond line: the end of it`;
    await db.pool.query(
      "UPDATE workflow_executions SET status = 'error', error = $2, started_at = now(), completed_at = now() WHERE id = $1",
      [id, error],
    );
    const page = await request(base, `/executions?workflow=${workflowId}`);
    const cell = /<td data-label="Error" class="error-cell">(.*?)<\/td>/s.exec(page.body)?.[1] ?? "";
    expect(cell).toMatch(
      /^<details class="error-more"><summary>The upstream API said no\. .*…<\/summary><pre>/s,
    );
    expect(cell).toContain("&lt;tail&gt;\nSecond line: the end of it</pre></details>");
  });
});

describe("actions (POST)", () => {
  it("refuses a POST from another site, without the token, or to another host name; nothing changes", async () => {
    const token = await formToken(base);
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM workflow_executions")).rows[0]?.n;
    const attempts = [
      request(base, `/workflows/${manual}/trigger`, { form: { token: "wrong" } }),
      request(base, `/workflows/${manual}/trigger`, { form: {} }),
      request(base, `/workflows/${manual}/trigger`, {
        headers: { "sec-fetch-site": "cross-site" },
        form: { token },
      }),
      request(base, `/workflows/${manual}/trigger`, {
        headers: { origin: "http://evil.test" },
        form: { token },
      }),
      request(base, `/workflows/${scheduled}/disable`, { headers: { origin: "null" }, form: { token } }),
    ];
    for (const answer of await Promise.all(attempts)) expect(answer.status).toBe(403);
    const rebound = await request(base, "/workflows", { headers: { host: `evil.test:${web.port}` } });
    expect(rebound.status).toBe(421);
    expect((await request(base, `/workflows/${manual}/trigger`)).status).toBe(404);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM workflow_executions")).rows[0]?.n).toBe(
      before,
    );
    expect((await getWorkflow(db.pool, scheduled))?.enabled).toBe(true);
  });

  it("trigger now creates a manual execution and sends its message; disable and enable change the workflow and its schedule", async () => {
    const token = await formToken(base);
    const triggered = await postAsPage(base, `/workflows/${manual}/trigger`, token);
    expect(triggered.status).toBe(303);
    const executionId = /^\/executions\/([0-9a-z]{21})\?notice=triggered$/.exec(
      triggered.headers.location ?? "",
    )?.[1];
    expect(executionId).toBeDefined();
    expect((await getExecution(db.pool, executionId as string))?.trigger_type).toBe("manual");
    const received = await testSqs.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages?.map((m) => JSON.parse(m.Body as string).executionId)).toEqual([executionId]);
    const shown = await request(base, triggered.headers.location as string);
    expect(shown.body).toContain("Triggered: this run was created and sent to the queue.");

    const disabled = await postAsPage(base, `/workflows/${scheduled}/disable`, token);
    expect(disabled.headers.location).toBe(`/workflows?notice=disabled&id=${scheduled}`);
    expect((await getWorkflow(db.pool, scheduled))?.enabled).toBe(false);
    expect((await getScheduleForWorkflow(db.pool, scheduled))?.enabled).toBe(false);
    expect((await request(base, "/workflows")).body).toContain(`action="/workflows/${scheduled}/enable"`);
    await postAsPage(base, `/workflows/${scheduled}/enable`, token);
    expect((await getScheduleForWorkflow(db.pool, scheduled))?.enabled).toBe(true);
  });

  it("queue: depths and the DLQ's bodies and receive counts; redrive one, then all", async () => {
    const own = await testSqs.createQueues();
    const isolated = await startTestConsole(db, testSqs, own);
    const ids: string[] = [];
    for (const body of ['{"executionId":"abcdefghijklmnopqrstu","workflowId":"w"}', "not json", "third"]) {
      const sent = await testSqs.sqs.send(
        new SendMessageCommand({ QueueUrl: own.deadLetterQueueUrl, MessageBody: body }),
      );
      ids.push(sent.MessageId as string);
    }
    const page = await request(isolated.url, "/queue");
    expect(page.body).toContain("3 message(s) in the dead-letter queue");
    expect(page.body).toContain('href="/executions/abcdefghijklmnopqrstu"');
    expect(page.body).toContain("not json");
    for (const id of ids) expect(page.body).toContain(`data-message="${id}"`);

    const token = await formToken(isolated.url);
    const one = await postAsPage(isolated.url, `/queue/redrive/${ids[1]}`, token);
    expect(one.headers.location).toBe("/queue?notice=redriven&n=1");
    expect((await getQueueStats(testSqs.sqs, own.queueUrl, own.deadLetterQueueUrl)).deadLetter).toBe(2);
    const again = await postAsPage(isolated.url, `/queue/redrive/${ids[1]}`, token);
    expect(again.headers.location).toBe("/queue?notice=not-in-dlq");
    const all = await postAsPage(isolated.url, "/queue/redrive", token);
    expect(all.headers.location).toBe("/queue?notice=redriven&n=2");
    const stats = await getQueueStats(testSqs.sqs, own.queueUrl, own.deadLetterQueueUrl);
    expect(stats).toMatchObject({ visible: 3, deadLetter: 0 });
    expect((await request(isolated.url, "/queue")).body).toContain("The dead-letter queue is empty.");
  });
});

/** Reads a server-sent event stream; next() resolves with the next `execution` event's data. */
function openEvents(url: string): { next(): Promise<Record<string, string | boolean>>; close(): void } {
  const queued: Record<string, string | boolean>[] = [];
  const waiting: ((value: Record<string, string | boolean>) => void)[] = [];
  let buffer = "";
  const req = http.get(url, (res) => {
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.startsWith("event: execution\n")) continue;
        const data = JSON.parse(block.slice(block.indexOf("data: ") + 6));
        const waiter = waiting.shift();
        if (waiter) waiter(data);
        else queued.push(data);
      }
    });
  });
  req.on("error", () => {});
  return {
    next: () => {
      const ready = queued.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => req.destroy(),
  };
}
