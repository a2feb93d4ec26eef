import { describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../../services/console/http.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { listDeadLetters } from "../../services/queue/dlq.js";
import { getQueueStats } from "../../services/queue/stats.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { createTestDatabase } from "../helpers/database.js";
import { createTestSqs, type TestQueues } from "../helpers/sqs.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";
import { formToken, postAsPage, request, startTestConsole } from "./fixtures.js";

// The Queue page's DLQ actions over fauxqs: select, redrive or delete the selected, purge; the
// destructive ones only after their confirmation page.

const db = await createTestDatabase();
const testSqs = await createTestSqs();
await createWorkflow(db.pool, {
  definition: validateWorkflow(
    workflow([trigger(), action("c", "Condition", { condition: "true" })], edges("t->c")),
  ),
});

/** A console on its own queues, with these bodies in its DLQ; their message ids in the same order. */
async function consoleWithLetters(bodies: string[]) {
  const { ids, ...queues } = await testSqs.createQueuesWithDeadLetters(bodies);
  const web = await startTestConsole(db, testSqs, queues);
  return { queues, ids, base: web.url, token: await formToken(web.url) };
}

const bodiesIn = async (queues: TestQueues, which: "queueUrl" | "deadLetterQueueUrl") =>
  (await listDeadLetters(testSqs.sqs, queues[which], 100)).map((letter) => letter.body).sort();
const picked = (...ids: (string | undefined)[]) =>
  ids.map((id): [string, string] => ["message", id as string]);

describe("the DLQ on the Queue page", () => {
  it("lists each message with a checkbox in one form, and the buttons for the selection and the whole DLQ", async () => {
    const { ids, base } = await consoleWithLetters(["one", "two"]);
    const page = await request(base, "/queue");
    for (const id of ids) expect(page.body).toContain(`name="message" value="${id}"`);
    expect(page.body).toContain('<form method="post" action="/queue/selected/redrive"');
    expect(page.body).toContain('formaction="/queue/selected/delete"');
    expect(page.body).toContain('action="/queue/purge"');
  });

  it("redrive selected moves only the ticked messages back to the queue", async () => {
    const { queues, ids, base, token } = await consoleWithLetters(["a", "b", "c", "d"]);
    const answer = await postAsPage(base, "/queue/selected/redrive", token, picked(ids[0], ids[2]));
    expect(answer.headers.location).toBe("/queue?notice=redriven&n=2&of=2");
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["b", "d"]);
    expect(await bodiesIn(queues, "queueUrl")).toEqual(["a", "c"]);
  });

  it("delete selected shows a confirmation first, then deletes only the ticked messages", async () => {
    const { queues, ids, base, token } = await consoleWithLetters(["keep", "drop <me>", "drop too"]);
    const asked = await postAsPage(base, "/queue/selected/delete", token, picked(ids[1], ids[2]));
    expect(asked.status).toBe(200);
    expect(asked.headers["content-security-policy"]).toBe(SECURITY_HEADERS["content-security-policy"]);
    expect(asked.headers["cache-control"]).toBe("no-store");
    expect(asked.body).toContain("<h1>Delete dead letters?</h1>");
    expect(asked.body).toContain('<input type="hidden" name="confirm" value="yes">');
    for (const id of [ids[1], ids[2]]) expect(asked.body).toContain(`name="message" value="${id}"`);
    expect(asked.body).not.toContain(`value="${ids[0]}"`);
    // Asking deleted nothing.
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["drop <me>", "drop too", "keep"]);

    const done = await postAsPage(base, "/queue/selected/delete", token, [
      ...picked(ids[1], ids[2]),
      ["confirm", "yes"],
    ]);
    expect(done.headers.location).toBe("/queue?notice=deleted&n=2&of=2");
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["keep"]);
    expect((await getQueueStats(testSqs.sqs, queues.queueUrl)).visible).toBe(0);
    const again = await postAsPage(base, "/queue/selected/delete", token, [
      ...picked(ids[1]),
      ["confirm", "yes"],
    ]);
    expect(again.headers.location).toBe("/queue?notice=deleted&n=0&of=1");
    expect((await request(base, again.headers.location as string)).body).toContain(
      "Deleted 0 message(s) from the dead-letter queue. 1 selected message(s) were no longer in the dead-letter queue.",
    );
  });

  it("purge needs its confirmation: the first POST only asks, the confirmed one empties the DLQ", async () => {
    const { queues, base, token } = await consoleWithLetters(["x", "y", "z"]);
    const asked = await postAsPage(base, "/queue/purge", token);
    expect(asked.status).toBe(200);
    expect(asked.body).toContain("<h1>Purge the dead-letter queue?</h1>");
    expect(asked.body).toContain("(about 3)");
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["x", "y", "z"]);
    const done = await postAsPage(base, "/queue/purge", token, [["confirm", "yes"]]);
    expect(done.headers.location).toBe("/queue?notice=purged&n=3");
    const stats = await getQueueStats(testSqs.sqs, queues.queueUrl, queues.deadLetterQueueUrl);
    expect(stats).toMatchObject({ visible: 0, deadLetter: 0 });
  });

  it("an empty selection or a bad id changes nothing and says so", async () => {
    const { queues, base, token } = await consoleWithLetters(["only"]);
    const none = await postAsPage(base, "/queue/selected/delete", token, [["confirm", "yes"]]);
    expect(none.headers.location).toBe("/queue?notice=none-selected");
    const bad = await postAsPage(base, "/queue/selected/redrive", token, [["message", "<script>"]]);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("&quot;&lt;script&gt;&quot; is not a message id");
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["only"]);
  });

  it("refuses each DLQ action without the console's token or from another site; the DLQ keeps its messages", async () => {
    const { queues, ids, base, token } = await consoleWithLetters(["stay", "here"]);
    const fields = [...picked(ids[0], ids[1]), ["confirm", "yes"]] as [string, string][];
    const attempts = await Promise.all([
      request(base, "/queue/purge", { form: [["confirm", "yes"]] }),
      request(base, "/queue/selected/delete", { form: fields }),
      request(base, "/queue/selected/redrive", { form: [["token", "stale"], ...fields] }),
      request(base, "/queue/purge", {
        headers: { "sec-fetch-site": "cross-site" },
        form: [
          ["token", token],
          ["confirm", "yes"],
        ],
      }),
    ]);
    expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    expect(await bodiesIn(queues, "deadLetterQueueUrl")).toEqual(["here", "stay"]);
  });
});
