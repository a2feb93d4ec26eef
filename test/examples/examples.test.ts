import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FLAG_SETTINGS } from "../../services/contracts/settings.js";
import { getExecution } from "../../services/db/executions.js";
import { DEMO_ROUTES, demoReply, startDemoServer } from "../../services/dev/demo-server.js";
import { runExecution } from "../../services/runner/index.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { createTestDatabase } from "../helpers/database.js";
import { createPending, DEMO_API_BASE, loadExample } from "../runner/fixtures.js";

// The shipped examples run offline against khctl dev's demo API, but for the one that says it needs the
// internet in its name.

const dir = path.join(import.meta.dirname, "..", "..", "examples");
const files = readdirSync(dir).filter((name) => name.endsWith(".json"));
const PUBLIC = "public-internet-check.json";
const offline = files.filter((name) => name !== PUBLIC);

const { pool } = await createTestDatabase();
const demo = await startDemoServer(0);
afterAll(() => demo.stop());

/** Every HTTP Request endpoint of a workflow file. */
function endpoints(name: string): string[] {
  const workflow = JSON.parse(readFileSync(path.join(dir, name), "utf8")) as {
    nodes: { data: { config: { endpoint?: string } } }[];
  };
  return workflow.nodes.flatMap((node) => (node.data.config.endpoint ? [node.data.config.endpoint] : []));
}

describe("examples/", () => {
  it("every example is a valid workflow; the public-internet one says so in its name", () => {
    expect(files).toContain(PUBLIC);
    expect(offline.length).toBeGreaterThanOrEqual(2);
    for (const name of files)
      expect(() => validateWorkflow(loadExample(name, demo.base)), name).not.toThrow();
    expect(loadExample(PUBLIC, demo.base).name).toMatch(/^Public internet: /);
  });

  it("the others call only the demo API, on its default port, and routes it has", () => {
    expect(DEMO_API_BASE).toBe(`http://127.0.0.1:${FLAG_SETTINGS.devDemoApiPort.default}`);
    for (const name of offline) {
      for (const endpoint of endpoints(name)) {
        expect(endpoint.startsWith(`${DEMO_API_BASE}/`), `${name}: ${endpoint}`).toBe(true);
        expect(
          demoReply("GET", new URL(endpoint).pathname, "").status === 404 &&
            demoReply("POST", new URL(endpoint).pathname, "{}").status === 404,
          endpoint,
        ).toBe(false);
      }
    }
  });

  it.each(offline)("%s runs to success against the demo API, with no internet", async (name) => {
    const { executionId } = await createPending(pool, loadExample(name, demo.base));
    const result = await runExecution(pool, executionId, { stepTimeoutMs: 5_000 });
    expect(result).toMatchObject({ outcome: "ran", status: "success" });
    expect((await getExecution(pool, executionId))?.error).toBeNull();
  });
});

describe("the demo API", () => {
  it("answers each route it lists", async () => {
    const get = async (route: string) => {
      const response = await fetch(`${demo.base}${route}`);
      return { status: response.status, body: await response.json() };
    };
    expect((await get("/")).body).toEqual({ routes: DEMO_ROUTES });
    expect((await get("/health")).body).toMatchObject({ ok: true });
    expect((await get("/status")).body).toMatchObject({ service: "demo-api", healthy: true });
    expect(await get("/status/503")).toEqual({ status: 503, body: { status: 503 } });
    expect(await get("/delay/10")).toEqual({ status: 200, body: { delayedMs: 10 } });
    const echo = await fetch(`${demo.base}/echo`, { method: "POST", body: JSON.stringify({ a: 1 }) });
    expect(await echo.json()).toEqual({ received: { a: 1 } });
    expect((await get("/nothing")).status).toBe(404);
  });
});
