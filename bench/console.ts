import { pathToFileURL } from "node:url";
import { loadSearch } from "../services/console/pages/search.js";
import { startConsole } from "../services/console/server.js";
import { createLogger } from "../services/core/logger.js";
import { readExecutionPage } from "../services/db/execution-list.js";
import { type Figure, figure, median } from "./figures.js";
import { type BenchStack, createTrivialWorkflow, startBenchStack } from "./stack.js";

/**
 * The web console's first page load with 10,000 executions in the database: a console is started on the
 * bench stack, and the first request of each page (the workflows, the executions list, one execution, one
 * workflow with its charts over its share of the runs, a search) is timed from the request to the last byte
 * of its HTML, as a browser's first visit would be; then the median of warm loads. The goal: every first
 * load under 300 ms. Then the search over the same executions: the search's queries (workflows by name,
 * executions by id prefix) against the executions list page's own query alone, both timed in the same run.
 * Run alone: `npx tsx bench/console.ts`.
 */

export interface ConsoleBenchResult {
  readonly name: "console";
  readonly executions: number;
  readonly workflows: number;
  /** Per page: the first load and the median of the warm ones, ms. */
  readonly pages: { path: string; firstMs: number; warmMs: number; bytes: number }[];
  /** Per search: the median of its queries, ms, beside the list page's own query alone. */
  readonly searches: { text: string; found: number; medianMs: number }[];
  readonly listQueryMs: number;
  readonly figures: Figure[];
}

const LIMIT_MS = 300;
const WARM_RUNS = 20;
const QUERY_RUNS = 50;
const PAGE_SIZE = 50;
/**
 * A search costs no more than the list page's own query: it reads the workflows' overview (whose run counts
 * read every execution) beside the executions by id prefix (a scan of the executions: no index needed at
 * this size, where the list itself scans and sorts them).
 */
const SEARCH_LIST_RATIO = 1;

/** `count` executions over the workflows and the last week, three step logs each, in two statements. */
async function seed(stack: BenchStack, workflows: readonly string[], count: number): Promise<string> {
  await stack.pool.query(
    `INSERT INTO workflow_executions
       (id, workflow_id, trigger_type, status, started_at, completed_at, duration_ms, total_steps,
        completed_steps, error, created_at, enqueued_at, send_count)
     SELECT lpad(to_hex(i), 21, '0'), ($1::text[])[1 + i % array_length($1::text[], 1)], 'manual',
            (ARRAY['success', 'success', 'success', 'error', 'cancelled'])[1 + i % 5],
            t, t + interval '120 ms', 120, 3, 3,
            CASE WHEN i % 5 = 3 THEN 'node "c" (Check): HTTP 500' END, t, t, 1
     FROM generate_series(1, $2::int) AS i, LATERAL (SELECT now() - (i * interval '60 seconds') AS t) AS at`,
    [workflows, count],
  );
  await stack.pool.query(
    `INSERT INTO workflow_execution_logs
       (id, execution_id, node_id, node_name, node_type, status, input, output, started_at, completed_at, duration_ms)
     SELECT lpad(to_hex(e.n * 4 + s.k), 21, 'l'), e.id, s.node, s.node, 'Condition', 'success',
            '{"condition": "1 + 1 === 2"}', '{"result": true}', e.started_at, e.completed_at, 40
     FROM (SELECT id, started_at, completed_at, row_number() OVER () AS n FROM workflow_executions) e,
          (VALUES (1, 't'), (2, 'c'), (3, 'd')) AS s(k, node)`,
  );
  await stack.pool.query("ANALYZE");
  return "000000000000000000001";
}

async function load(url: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return { ms, bytes: body.length };
}

const round = (n: number) => Math.round(n * 100) / 100;

async function medianMs(run: () => Promise<unknown>): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < QUERY_RUNS; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return round(median(times));
}

/**
 * Searches over the seeded executions (ids lpad(hex(i), 21, '0'), the oldest of them the highest i): a
 * name, a common id prefix, a rare one whose few executions are the oldest (the list's index is walked to
 * its end), and the list page's own query alone, in the same run.
 */
async function measureSearches(stack: BenchStack, count: number) {
  const rare = count.toString(16).padStart(21, "0").slice(0, 19);
  const texts = ["bench workflow 1", "0000000000000000001", rare];
  const searches: ConsoleBenchResult["searches"] = [];
  for (const text of texts) {
    const found = await loadSearch(stack.pool, { text }, PAGE_SIZE);
    const ms = await medianMs(() => loadSearch(stack.pool, { text }, PAGE_SIZE));
    searches.push({ text, found: found.workflows.length + found.executions.length, medianMs: ms });
  }
  const listQueryMs = await medianMs(() => readExecutionPage(stack.pool, {}, { limit: PAGE_SIZE }));
  return { searches, listQueryMs };
}

/** Each page's first load, then the median of WARM_RUNS more. */
async function measurePages(base: string, paths: readonly string[]): Promise<ConsoleBenchResult["pages"]> {
  const pages: ConsoleBenchResult["pages"] = [];
  for (const path of paths) {
    const first = await load(`${base}${path}`);
    const warm: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) warm.push((await load(`${base}${path}`)).ms);
    pages.push({ path, firstMs: round(first.ms), warmMs: round(median(warm)), bytes: first.bytes });
  }
  return pages;
}

function consoleFigures(
  count: number,
  pages: ConsoleBenchResult["pages"],
  searches: ConsoleBenchResult["searches"],
  listQueryMs: number,
): Figure[] {
  return [
    figure(
      "console-first-load",
      Math.max(...pages.map((p) => p.firstMs)),
      "ms",
      LIMIT_MS,
      { atMost: 1 },
      `the slowest first load of /workflows, /executions, one execution, one workflow and a search, with ${count} executions; limit: the 300 ms goal`,
    ),
    figure(
      "console-search",
      Math.max(...searches.map((search) => search.medianMs)),
      "ms",
      listQueryMs,
      { atMost: SEARCH_LIST_RATIO },
      `the slowest search's queries (a name, a common and a rare id prefix) over ${count} executions, median; limit: the list page's own query alone, same run`,
    ),
  ];
}

export async function runConsoleBench(
  options: { executions?: number; workflows?: number } = {},
): Promise<ConsoleBenchResult> {
  const count = options.executions ?? 10_000;
  const workflowCount = options.workflows ?? 20;
  const stack = await startBenchStack("console");
  try {
    const workflows: string[] = [];
    for (let i = 0; i < workflowCount; i++) {
      workflows.push(
        await createTrivialWorkflow(stack, `bench workflow ${i}`, i % 2 ? "* * * * *" : undefined),
      );
    }
    const oneExecution = await seed(stack, workflows, count);
    const queues = await stack.queues("console");
    const web = await startConsole(
      {
        pool: stack.pool,
        sqs: stack.sqs,
        queueUrl: queues.queueUrl,
        health: () => Promise.reject(new Error("not measured")),
        logger: createLogger("bench-console", { LOG_LEVEL: "warn" }),
        pipeline: "bench",
      },
      { port: 0 },
    );
    try {
      const rare = count.toString(16).padStart(21, "0").slice(0, 19);
      const paths = [
        "/workflows",
        "/executions",
        `/executions/${oneExecution}`,
        `/workflows/${workflows[0]}`,
        `/search?q=${rare}`,
      ];
      const pages = await measurePages(web.url, paths);
      const { searches, listQueryMs } = await measureSearches(stack, count);
      return {
        name: "console",
        executions: count,
        workflows: workflowCount,
        pages,
        searches,
        listQueryMs,
        figures: consoleFigures(count, pages, searches, listQueryMs),
      };
    } finally {
      await web.stop();
    }
  } finally {
    await stack.stop();
  }
}

export function formatConsoleBench(result: ConsoleBenchResult): string {
  return [
    `Web console, ${result.executions} executions of ${result.workflows} workflows (first load, then median of ${WARM_RUNS} warm)`,
    ...result.pages.map(
      (p) =>
        `  ${p.path.padEnd(36)} first ${String(p.firstMs).padStart(6)} ms   warm ${String(p.warmMs).padStart(6)} ms   ${(p.bytes / 1024).toFixed(0)} KiB`,
    ),
    `Search, median of ${QUERY_RUNS} (its queries, no HTTP); the list page's own query alone: ${result.listQueryMs} ms`,
    ...result.searches.map(
      (search) =>
        `  ${JSON.stringify(search.text).padEnd(36)} ${String(search.medianMs).padStart(6)} ms   ${search.found} found`,
    ),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(formatConsoleBench(await runConsoleBench()));
}
