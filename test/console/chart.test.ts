import { describe, expect, it } from "vitest";
import { RUN_WINDOWS, renderRunChart, windowEnding, windowWords } from "../../services/console/chart.js";
import { graphOf } from "../../services/console/graph.js";
import type { RunBucket } from "../../services/db/execution-stats.js";

const [DAY, WEEK] = RUN_WINDOWS;
const empty = (start: Date): RunBucket => ({
  start,
  success: 0,
  error: 0,
  cancelled: 0,
  unfinished: 0,
  medianMs: null,
  maxMs: null,
});

describe("the run charts", () => {
  it("end each window with the UTC bucket that holds now: 24 hours, or 28 buckets of 6 hours", () => {
    const now = new Date("2026-12-07T13:20:00Z");
    expect(windowEnding(DAY, now)).toEqual({
      from: new Date("2026-12-06T14:00:00Z"),
      bucketMs: 3_600_000,
      buckets: 24,
    });
    expect(windowEnding(WEEK, now)).toEqual({
      from: new Date("2026-11-30T18:00:00Z"),
      bucketMs: 21_600_000,
      buckets: 28,
    });
  });

  it("stack each bucket's outcomes to scale, say its numbers in words, and sum the window up", () => {
    const from = new Date("2026-12-06T14:00:00Z");
    const buckets = Array.from({ length: 24 }, (_, i) => empty(new Date(from.getTime() + i * 3_600_000)));
    buckets[3] = { ...buckets[3], success: 3, error: 1, medianMs: 1500, maxMs: 4000 } as RunBucket;
    buckets[4] = { ...buckets[4], success: 2, medianMs: 500, maxMs: 800 } as RunBucket;
    const svg = renderRunChart(DAY, buckets).text;
    // The busiest bucket fills the runs panel (80 high): 3 of 4 are success, 1 error, stacked.
    expect(svg).toMatch(/<rect class="bar bar-success" x="[\d.]+" y="42" width="[\d.]+" height="60"\/>/);
    expect(svg).toMatch(/<rect class="bar bar-error" x="[\d.]+" y="22" width="[\d.]+" height="20"\/>/);
    expect(svg).toContain(
      "<title>2026-12-06 17:00–18:00 UTC: 4 runs (3 success, 1 error); median 1.50s, slowest 4.00s</title>",
    );
    expect(svg).toContain("<title>2026-12-06 14:00–15:00 UTC: no runs</title>");
    expect(svg).toContain(">14:00</text>");
    expect(windowWords(DAY, buckets)).toBe("Last 24 hours: 6 runs (5 success, 1 error); slowest 4.00s.");
    expect(windowWords(WEEK, [])).toBe("Last 7 days: no runs.");
  });
});

describe("a definition's graph", () => {
  it("names each node's kind under its label; entries without ids are left out", () => {
    const { nodes, edges } = graphOf({
      nodes: [
        { id: "t", data: { type: "trigger", label: "Start", config: { triggerType: "Schedule" } } },
        { id: "a", data: { type: "action", label: "Get", config: { actionType: "HTTP Request" } } },
        { data: { label: "no id" } },
      ],
      edges: [{ source: "t", target: "a" }, { source: 1 }],
    });
    expect(nodes).toEqual([
      { id: "t", label: "Start", detail: "Schedule trigger" },
      { id: "a", label: "Get", detail: "HTTP Request" },
    ]);
    expect(edges).toEqual([{ source: "t", target: "a" }]);
    expect(graphOf(null, () => "success")).toEqual({ nodes: [], edges: [] });
  });
});
