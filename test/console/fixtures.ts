import http from "node:http";
import { afterAll } from "vitest";
import { type ConsoleDeps, type RunningConsole, startConsole } from "../../services/console/server.js";
import { createLogger } from "../../services/core/logger.js";
import type { Pool } from "../../services/db/pool.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { nextSlotAfter } from "../../services/scheduling/cron.js";
import { collectStatus } from "../../services/status/report.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import type { TestQueues, TestSqs } from "../helpers/sqs.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

/** A console on the file's test database and queues, on any free port; stopped when the file ends. */
export async function startTestConsole(
  db: { url: string; pool: Pool },
  sqs: TestSqs,
  queues: TestQueues,
  overrides: Partial<ConsoleDeps> & { pageSize?: number } = {},
): Promise<RunningConsole> {
  const { pageSize, ...deps } = overrides;
  const running = await startConsole(
    {
      pool: db.pool,
      sqs: sqs.sqs,
      queueUrl: queues.queueUrl,
      // The health page's real report, as khctl status collects it for a khctl dev that is not running.
      health: () =>
        collectStatus({
          profile: "embedded",
          dev: { state: null, dataDir: "/nonexistent/kh-console-test" },
          minikubeProfile: "minikube",
          kubeContext: undefined,
          namespace: "local",
          databaseUrl: db.url,
          queueUrl: queues.queueUrl,
          sqs: { endpoint: sqs.endpoint, region: "us-east-1" },
        }),
      logger: createLogger("console-test", { LOG_LEVEL: "warn" }),
      pipeline: "test pipeline",
      ...deps,
    },
    { port: 0, feedIntervalMs: 100, ...(pageSize ? { pageSize } : {}) },
  );
  afterAll(() => running.stop());
  return running;
}

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP request with full control of its headers (Host, Origin, Sec-Fetch-Site), as a browser or another site would send it. */
export function request(
  base: string,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    /** Fields; as pairs, a name may repeat (the DLQ's ticked messages). */
    form?: Record<string, string> | [string, string][];
  } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const body = options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: options.method ?? (body === undefined ? "GET" : "POST"),
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The per-process token the console's forms carry. */
export async function formToken(base: string): Promise<string> {
  const page = await request(base, "/workflows");
  const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1];
  if (!token) throw new Error("no form token on /workflows (no workflows?)");
  return token;
}

/** A POST as the console's own page sends it: same origin, with the token (and any other fields). */
export function postAsPage(
  base: string,
  path: string,
  token: string,
  fields: [string, string][] = [],
): Promise<Answer> {
  return request(base, path, {
    headers: { origin: base, "sec-fetch-site": "same-origin" },
    form: [["token", token], ...fields],
  });
}

/** A three-node workflow named `name`, scheduled by `cron` (in `timezone`) when given, else manual; its id. */
export async function storeWorkflow(
  pool: Pool,
  name: string,
  cron?: string,
  timezone = "UTC",
): Promise<string> {
  const definition = validateWorkflow(
    workflow(
      [
        trigger(
          "t",
          cron ? { triggerType: "Schedule", scheduleCron: cron, scheduleTimezone: timezone } : undefined,
        ),
        action("a", "Condition", { condition: "1 === 1" }, { label: "Check" }),
        action("b", "Condition", { condition: "2 === 2" }, { label: "Then" }),
      ],
      edges("t->a", "a->b"),
      name,
    ),
  );
  const { workflow: row } = await createWorkflow(pool, {
    definition,
    ...(cron ? { schedule: { cron, timezone, nextRunAt: nextSlotAfter(cron, timezone, new Date()) } } : {}),
  });
  return row.id;
}
