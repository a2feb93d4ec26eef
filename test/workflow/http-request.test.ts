import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../services/embedded/postgres.js";
import { httpRequestAction } from "../../services/workflow/actions/http-request.js";
import { StepError } from "../../services/workflow/actions/registry.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { runWorkflow } from "../../services/workflow/engine.js";
import { within } from "../helpers/wait.js";
import { startTestServer } from "../runner/fixtures.js";
import { action, edges, latch, trigger, workflow } from "./fixtures.js";

/** The shared test server: streams of any size, endless ones. */
const streams = await startTestServer();
let server: http.Server;
let base: string;
/** Opens when the /slow handler's request is closed by the client (the fetch was aborted). */
let slowClosed = latch();

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname === "/echo") {
        response.setHeader("content-type", "application/json");
        response.end(
          JSON.stringify({ method: request.method, headers: request.headers, body, query: url.search }),
        );
      } else if (url.pathname === "/text") {
        response.setHeader("content-type", "text/plain");
        response.end("plain words");
      } else if (url.pathname === "/fail") {
        response.statusCode = 503;
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ error: "down" }));
      } else if (url.pathname === "/slow") {
        request.socket.on("close", () => slowClosed.open());
        // never answers
      } else {
        response.statusCode = 404;
        response.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const context = (signal: AbortSignal = new AbortController().signal) => ({
  signal,
  nodeId: "h",
  label: "H",
  scope: { outputs: new Map(), labelOf: () => undefined },
});

describe("HTTP Request", () => {
  it("GET: parses a JSON response, sends headers (object or JSON string), ignores the body", async () => {
    const output = (await httpRequestAction.run(
      {
        endpoint: `${base}/echo`,
        httpMethod: "GET",
        httpHeaders: '{"x-test": "yes"}',
        httpBody: { ignored: true },
      },
      context(),
    )) as {
      status: number;
      data: { method: string; headers: Record<string, string>; body: string };
      headers: Record<string, string>;
    };
    expect(output.status).toBe(200);
    expect(output.data.method).toBe("GET");
    expect(output.data.headers["x-test"]).toBe("yes");
    expect(output.data.body).toBe("");
    expect(output.headers["content-type"]).toBe("application/json");
  });

  it("POST: an object body is sent as JSON with a JSON content type; a string body as is", async () => {
    const post = (await httpRequestAction.run(
      { endpoint: `${base}/echo`, httpMethod: "post", httpHeaders: { "x-n": 1 }, httpBody: { a: [1, 2] } },
      context(),
    )) as { data: { method: string; headers: Record<string, string>; body: string } };
    expect(post.data.method).toBe("POST");
    expect(JSON.parse(post.data.body)).toEqual({ a: [1, 2] });
    expect(post.data.headers["content-type"]).toBe("application/json");
    expect(post.data.headers["x-n"]).toBe("1");
    const put = (await httpRequestAction.run(
      { endpoint: `${base}/echo`, httpMethod: "PUT", httpBody: '{"raw": true}' },
      context(),
    )) as { data: { body: string } };
    expect(put.data.body).toBe('{"raw": true}');
  });

  it("refuses headers or query parameters given as JSON nested past the depth limit, in one line", () => {
    const deep = `{"x":${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}}`;
    expect(() => httpRequestAction.validate?.({ endpoint: `${base}/`, httpHeaders: deep })).toThrow(
      new Error('"httpHeaders" nests more than 64 levels deep'),
    );
    expect(() => httpRequestAction.validate?.({ endpoint: `${base}/`, httpQueryParams: deep })).toThrow(
      new Error('"httpQueryParams" nests more than 64 levels deep'),
    );
  });

  it("appends httpQueryParams (object or JSON string) to the endpoint's query", async () => {
    const output = (await httpRequestAction.run(
      { endpoint: `${base}/echo?a=1`, httpQueryParams: '{"b": "two words", "c": 3}' },
      context(),
    )) as { data: { query: string } };
    expect(output.data.query).toBe("?a=1&b=two+words&c=3");
  });

  it("returns text when the response is not JSON", async () => {
    const output = (await httpRequestAction.run({ endpoint: `${base}/text` }, context())) as {
      data: unknown;
    };
    expect(output.data).toBe("plain words");
  });

  it("a non-2xx is a step error that still carries the status and data", async () => {
    const error = (await httpRequestAction
      .run({ endpoint: `${base}/fail`, httpMethod: "DELETE" }, context())
      .catch((e: unknown) => e)) as StepError;
    expect(error).toBeInstanceOf(StepError);
    expect(error.message).toBe(`DELETE ${base}/fail returned HTTP 503 Service Unavailable`);
    expect(error.output).toMatchObject({ status: 503, data: { error: "down" } });
  });

  it("timeoutMs ends a request that does not answer, and the connection is closed", async () => {
    slowClosed = latch();
    await expect(
      httpRequestAction.run({ endpoint: `${base}/slow`, timeoutMs: 100 }, context()),
    ).rejects.toThrow(`GET ${base}/slow timed out after 100ms`);
    await slowClosed.opened;
  });

  it("an unreachable endpoint is a clear error", async () => {
    const closed = `http://127.0.0.1:${await freePort()}/x`;
    await expect(httpRequestAction.run({ endpoint: closed }, context())).rejects.toThrow(
      `GET ${closed} failed: fetch failed (connect ECONNREFUSED`,
    );
  });

  it("in a workflow: the step timeout cancels the in-flight fetch; a non-2xx records status and error", async () => {
    slowClosed = latch();
    const definition = validateWorkflow(
      workflow(
        [
          trigger(),
          action("slow", "HTTP Request", { endpoint: `${base}/slow`, httpMethod: "GET" }),
          action("fail", "HTTP Request", { endpoint: `${base}/fail`, httpMethod: "GET" }),
          action("c", "Condition", {
            condition: "{{@ok:OK.status}} === 200 && {{@ok:OK.data.method}} === 'POST'",
          }),
          action("ok", "HTTP Request", {
            endpoint: `${base}/echo`,
            httpMethod: "POST",
            httpBody: { who: "{{@t:Start.who}}" },
          }),
        ],
        edges("t->slow", "t->fail", "t->ok", "ok->c"),
      ),
    );
    const ends = new Map<string, { status: string; error?: string; output?: unknown }>();
    const result = await runWorkflow(definition, {
      input: { who: "Ada" },
      stepTimeoutMs: 200,
      onStepEnd: (event) => {
        ends.set(event.nodeId, event);
      },
    });
    await slowClosed.opened;
    expect(result.status).toBe("error");
    expect(ends.get("slow")).toMatchObject({ status: "error", error: "step timed out after 200ms" });
    expect(ends.get("fail")).toMatchObject({ status: "error", output: { status: 503 } });
    expect(ends.get("ok")).toMatchObject({ status: "success", output: { status: 200 } });
    expect(
      JSON.parse((ends.get("ok")?.output as { data: { body: string } } | undefined)?.data.body ?? "null"),
    ).toEqual({
      who: "Ada",
    });
    expect(ends.get("c")).toMatchObject({ status: "success", output: { result: true } });
  });
});

describe("HTTP Request step log", () => {
  it("masks secret header values in the recorded input and output, but sends them", async () => {
    const definition = validateWorkflow(
      workflow(
        [
          trigger(),
          action("h", "HTTP Request", {
            endpoint: `${base}/echo`,
            httpHeaders: '{"Authorization": "Bearer {{@t:Start.token}}", "X-Trace": "on", "x-api-key": "k"}',
          }),
          // The echo shows what the server got; a later step reads the real value through its template.
          action("sent", "Condition", {
            condition: "{{@h:H.data.headers.authorization}} === 'Bearer s3cret'",
          }),
        ],
        edges("t->h", "h->sent"),
      ),
    );
    const inputs: unknown[] = [];
    const ends = new Map<string, { output?: unknown; input?: unknown }>();
    await runWorkflow(definition, {
      input: { token: "s3cret" },
      onStepStart: (event) => {
        if (event.nodeId === "h") inputs.push(event.input);
      },
      onStepEnd: (event) => {
        ends.set(event.nodeId, event);
      },
    });
    const recorded = JSON.parse((inputs[0] as { httpHeaders: string }).httpHeaders);
    expect(recorded).toEqual({ Authorization: "[redacted]", "X-Trace": "on", "x-api-key": "[redacted]" });
    expect(JSON.stringify(ends.get("h")?.input)).not.toContain("s3cret");
    expect(JSON.stringify(ends.get("h")?.output)).not.toContain("s3cret");
    expect(ends.get("sent")?.output).toEqual({ result: true });
  });
});

describe("HTTP Request: bounded responses", () => {
  const runOne = async (endpoint: string, extra: Record<string, unknown> = {}, stepTimeoutMs = 20_000) => {
    const definition = validateWorkflow(
      workflow([trigger(), action("h", "HTTP Request", { endpoint, ...extra })], edges("t->h")),
    );
    return runWorkflow(definition, { stepTimeoutMs });
  };

  it("reads a response up to the limit, and fails with one line past it", async () => {
    const fits = await runOne(`${streams.base}/bytes/1000`, { maxResponseBytes: 1000 });
    expect(fits.status).toBe("success");
    const over = await runOne(`${streams.base}/bytes/1001`, { maxResponseBytes: 1000 });
    expect(over.status).toBe("error");
    expect(over.error).toBe(
      `node "h" (H): GET ${streams.base}/bytes/1001: the response is larger than 1000 bytes (raise "maxResponseBytes" on the node, or HTTP_MAX_RESPONSE_BYTES)`,
    );
  });

  it("stops an endless response at the default limit, long before the step timeout, and drops the connection", async () => {
    const closed = once(streams.events, "endless-closed");
    const result = await runOne(`${streams.base}/endless`, {}, 60_000);
    expect(result.status).toBe("error");
    expect(result.error).toMatch(/the response is larger than 10485760 bytes/);
    await within(closed, 10_000, "the server seeing the connection dropped");
  });

  it("refuses a timeoutMs beyond what a timer can wait (it would fire at once)", () => {
    expect(() =>
      validateWorkflow(
        workflow(
          [trigger(), action("h", "HTTP Request", { endpoint: streams.base, timeoutMs: 3_000_000_000 })],
          edges("t->h"),
        ),
      ),
    ).toThrow(/"timeoutMs" must be a number of ms from 1 to 2147483647, got "3000000000"/);
  });

  it("refuses a bad maxResponseBytes when the workflow is saved", () => {
    expect(() =>
      validateWorkflow(
        workflow(
          [trigger(), action("h", "HTTP Request", { endpoint: base, maxResponseBytes: "lots" })],
          edges("t->h"),
        ),
      ),
    ).toThrow(/"maxResponseBytes" must be a whole number of bytes >= 1, got "lots"/);
  });
});
