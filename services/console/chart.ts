import { formatDuration } from "../core/duration.js";
import type { RunBucket, RunWindow } from "../db/execution-stats.js";
import { type Html, html } from "./html.js";

/**
 * A workflow's runs over a window as inline SVG (no script: the CSP allows none inline, and none is needed):
 * runs per bucket stacked by outcome above, the median and slowest duration below, the same time axis.
 * Every bucket says its counts and durations in words on hover (<title>), and the caption sums the window
 * up, so colour is never the only sign. Drawn 400 wide: at 400 px its labels keep their size. Pure.
 */

const HOUR_MS = 3_600_000;

/** The windows the workflow page draws: a bucket each hour over a day, each 6 hours over a week (UTC). */
export const RUN_WINDOWS = [
  { id: "day", label: "Last 24 hours", bucketMs: HOUR_MS, buckets: 24, tickEvery: 6 },
  { id: "week", label: "Last 7 days", bucketMs: 6 * HOUR_MS, buckets: 28, tickEvery: 4 },
] as const;

export type RunWindowSpec = (typeof RUN_WINDOWS)[number];

/** The window that ends with the bucket holding `now` (buckets aligned on UTC hours). */
export function windowEnding(spec: RunWindowSpec, now: Date): RunWindow {
  const end = Math.floor(now.getTime() / spec.bucketMs) * spec.bucketMs + spec.bucketMs;
  return {
    from: new Date(end - spec.bucketMs * spec.buckets),
    bucketMs: spec.bucketMs,
    buckets: spec.buckets,
  };
}

const OUTCOMES = ["success", "error", "cancelled", "unfinished"] as const;
const SIZE = { width: 400, left: 44, right: 6, top: 22, runs: 80, gap: 30, durations: 56, axis: 20 };
const PLOT_WIDTH = SIZE.width - SIZE.left - SIZE.right;
const DURATION_TOP = SIZE.top + SIZE.runs + SIZE.gap;
const HEIGHT = DURATION_TOP + SIZE.durations + SIZE.axis;

const runsIn = (bucket: RunBucket) => OUTCOMES.reduce((sum, outcome) => sum + bucket[outcome], 0);

/** An axis label: the hour ("13:00") in a day, the day ("Mon 7") in a week, both UTC. */
function tickLabel(spec: RunWindowSpec, start: Date): string {
  if (spec.id === "day") return start.toISOString().slice(11, 16);
  return start.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", timeZone: "UTC" });
}

/** One bucket in words, for its <title>. */
function bucketWords(spec: RunWindowSpec, bucket: RunBucket): string {
  const from = bucket.start.toISOString().slice(0, 16).replace("T", " ");
  const to = new Date(bucket.start.getTime() + spec.bucketMs).toISOString().slice(11, 16);
  const total = runsIn(bucket);
  if (total === 0) return `${from}–${to} UTC: no runs`;
  const counts = OUTCOMES.filter((o) => bucket[o] > 0).map((o) => `${bucket[o]} ${o}`);
  const times =
    bucket.maxMs === null
      ? ""
      : `; median ${formatDuration(bucket.medianMs)}, slowest ${formatDuration(bucket.maxMs)}`;
  return `${from}–${to} UTC: ${total} run${total === 1 ? "" : "s"} (${counts.join(", ")})${times}`;
}

/** A bucket's bars: its outcomes stacked (success at the bottom), its median duration and slowest run. */
function bucketBars(
  bucket: RunBucket,
  x: number,
  width: number,
  scale: { runs: number; ms: number },
): Html[] {
  const bars: Html[] = [];
  let base = SIZE.top + SIZE.runs;
  for (const outcome of OUTCOMES) {
    const height = (bucket[outcome] / scale.runs) * SIZE.runs;
    if (height <= 0) continue;
    base -= height;
    bars.push(
      html`<rect class="bar bar-${outcome}" x="${x}" y="${base}" width="${width}" height="${height}"/>`,
    );
  }
  const bottom = DURATION_TOP + SIZE.durations;
  if (bucket.medianMs !== null) {
    const height = Math.max(1, (bucket.medianMs / scale.ms) * SIZE.durations);
    bars.push(
      html`<rect class="bar bar-median" x="${x}" y="${bottom - height}" width="${width}" height="${height}"/>`,
    );
  }
  if (bucket.maxMs !== null) {
    const y = bottom - (bucket.maxMs / scale.ms) * SIZE.durations;
    bars.push(html`<line class="slowest" x1="${x}" x2="${x + width}" y1="${y}" y2="${y}"/>`);
  }
  return bars;
}

/** The axes' lines and labels: the runs' and durations' maxima on the left, the times below. */
function axes(spec: RunWindowSpec, buckets: readonly RunBucket[], scale: { runs: number; ms: number }): Html {
  const step = PLOT_WIDTH / buckets.length;
  const ticks = buckets.flatMap((bucket, index) =>
    index % spec.tickEvery === 0
      ? [
          html`<text class="tick" x="${SIZE.left + index * step}" y="${HEIGHT - 4}">${tickLabel(spec, bucket.start)}</text>`,
        ]
      : [],
  );
  const right = SIZE.left + PLOT_WIDTH;
  const runsBase = SIZE.top + SIZE.runs;
  const msBase = DURATION_TOP + SIZE.durations;
  return html`<line class="axis" x1="${SIZE.left}" x2="${right}" y1="${runsBase}" y2="${runsBase}"/>
<line class="axis" x1="${SIZE.left}" x2="${right}" y1="${msBase}" y2="${msBase}"/>
<text class="scale" x="${SIZE.left - 4}" y="${SIZE.top + 8}">${scale.runs}</text>
<text class="scale" x="${SIZE.left - 4}" y="${runsBase}">0</text>
<text class="panel" x="${SIZE.left}" y="${SIZE.top - 8}">runs per ${spec.id === "day" ? "hour" : "6 hours"}</text>
<text class="scale" x="${SIZE.left - 4}" y="${DURATION_TOP + 8}">${formatDuration(scale.ms)}</text>
<text class="panel" x="${SIZE.left}" y="${DURATION_TOP - 8}">duration: median, slowest</text>
${ticks}`;
}

/** The window summed up in one sentence (the figure's caption and the image's name). */
export function windowWords(spec: RunWindowSpec, buckets: readonly RunBucket[]): string {
  const totals = OUTCOMES.map((o) => [o, buckets.reduce((sum, b) => sum + b[o], 0)] as const);
  const total = totals.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return `${spec.label}: no runs.`;
  const counts = totals.filter(([, n]) => n > 0).map(([o, n]) => `${n} ${o}`);
  const slowest = Math.max(...buckets.map((b) => b.maxMs ?? -1));
  const time = slowest >= 0 ? `; slowest ${formatDuration(slowest)}` : "";
  return `${spec.label}: ${total} run${total === 1 ? "" : "s"} (${counts.join(", ")})${time}.`;
}

export function renderRunChart(spec: RunWindowSpec, buckets: readonly RunBucket[]): Html {
  const scale = {
    runs: Math.max(1, ...buckets.map(runsIn)),
    ms: Math.max(1, ...buckets.map((b) => b.maxMs ?? 0)),
  };
  const step = PLOT_WIDTH / buckets.length;
  const width = Math.max(1, step * 0.8);
  const groups = buckets.map((bucket, index) => {
    const x = SIZE.left + index * step;
    return html`<g class="bucket" data-runs="${runsIn(bucket)}"><title>${bucketWords(spec, bucket)}</title>
<rect class="hit" x="${x}" y="${SIZE.top}" width="${step}" height="${HEIGHT - SIZE.top - SIZE.axis}"/>
${bucketBars(bucket, x, width, scale)}</g>`;
  });
  const words = windowWords(spec, buckets);
  return html`<figure class="runs" data-window="${spec.id}">
<svg viewBox="0 0 ${SIZE.width} ${HEIGHT}" role="img" aria-label="${words}">
${axes(spec, buckets, scale)}
${groups}
</svg>
<figcaption>${words}</figcaption>
</figure>`;
}

/** What the charts' marks mean, in words beside their colours. */
export function chartLegend(): Html {
  const items = [...OUTCOMES, "median", "slowest"].map(
    (name) =>
      html`<li><span class="swatch swatch-${name}" aria-hidden="true"></span>${name === "median" ? "median duration" : name === "slowest" ? "slowest run" : name}</li>`,
  );
  return html`<ul class="legend">${items}</ul>`;
}
