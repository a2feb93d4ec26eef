import cronstrue from "cronstrue";
import { formatDuration } from "../core/duration.js";
import { shownText, shownValue } from "../workflow/shown.js";
import { type Html, html } from "./html.js";

/** How the console writes times, durations, statuses and values. */

/** `2026-12-01 12:00:01 UTC`: how the console writes an instant in full (in a <time>'s title, and past a month). */
export function absolute(iso: string): string {
  return `${iso.slice(0, 19).replace("T", " ")} UTC`;
}

const isoOf = (date: Date | string) => (typeof date === "string" ? date : date.toISOString());

/** Beyond this, "n d ago" says less than the date itself, ms. */
const RELATIVE_MAX_MS = 30 * 24 * 3600_000;
const UNITS = [
  { ms: 24 * 3600_000, unit: "d" },
  { ms: 3600_000, unit: "h" },
  { ms: 60_000, unit: "min" },
  { ms: 1000, unit: "s" },
] as const;

/**
 * `2 min ago`, `in 3 h`, `now`: an instant relative to `now`, in its largest whole unit; undefined past
 * RELATIVE_MAX_MS either way (the absolute time is shown then).
 */
export function relativeTime(date: Date, now: Date): string | undefined {
  const diff = now.getTime() - date.getTime();
  const size = Math.abs(diff);
  if (size > RELATIVE_MAX_MS) return undefined;
  const unit = UNITS.find((u) => size >= u.ms);
  if (!unit) return "now";
  const amount = `${Math.floor(size / unit.ms)} ${unit.unit}`;
  return diff >= 0 ? `${amount} ago` : `in ${amount}`;
}

/**
 * An instant as every console page writes it: relative (`2 min ago`) in a <time> element, the absolute
 * time on hover (title) and for machines (datetime). `now` is when the page is rendered.
 */
export function when(date: Date | string | null | undefined, now: Date = new Date()): Html {
  if (!date) return html`<span class="none">–</span>`;
  const iso = isoOf(date);
  const full = absolute(iso);
  return html`<time datetime="${iso}" title="${full}">${relativeTime(new Date(iso), now) ?? full}</time>`;
}

/** `17:45:31.123` (UTC) in a <time> element: a step's start, on the day its execution shows. */
export function clock(date: Date | string | null | undefined): Html {
  if (!date) return html`<span class="none">–</span>`;
  const iso = isoOf(date);
  return html`<time datetime="${iso}" title="${absolute(iso)}">${iso.slice(11, 23)}</time>`;
}

/** An ISO instant inside a text, with the "(12s ago)" khctl status may print after it. */
const ISO_IN_TEXT = /(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)(?: \(\d+s ago\))?/g;

/**
 * A text written for a terminal (khctl status's lines) with each ISO instant in it written as `when`
 * writes it, so the Health page uses the one format; the rest is escaped.
 */
export function withTimes(text: string, now: Date = new Date()): Html {
  const parts: Html[] = [];
  let at = 0;
  for (const match of text.matchAll(ISO_IN_TEXT)) {
    parts.push(html`${text.slice(at, match.index)}`, when(match[1] as string, now));
    at = match.index + match[0].length;
  }
  return html`${parts}${text.slice(at)}`;
}

export function duration(ms: number | null | undefined): Html {
  return ms === null || ms === undefined ? html`<span class="none">–</span>` : html`${formatDuration(ms)}`;
}

/** A status as a badge: its word (never only a colour) in a class the stylesheet colours. */
export function statusBadge(status: string | null | undefined): Html {
  if (!status) return html`<span class="none">–</span>`;
  return html`<span class="status status-${status.replace(/[^a-z]/g, "")}">${status}</span>`;
}

/** A cron expression in words, in its time zone: "Every minute (UTC)". The expression itself on hover. */
export function cronInWords(cron: string, timezone: string): string {
  try {
    return `${cronstrue.toString(cron, { use24HourTimeFormat: true, verbose: false })} (${timezone})`;
  } catch {
    return `${cron} (${timezone})`;
  }
}

/**
 * A value as JSON for people, masked by the rule every view follows (workflow/shown.ts); the execution
 * report is masked already, and masking twice changes nothing.
 */
export function shownJson(value: unknown): string {
  if (value === null || value === undefined) return "";
  return JSON.stringify(shownValue(value), null, 2);
}

/** An error message, masked. */
export function shownError(text: string | null | undefined): string {
  return text ? shownText(text) : "";
}

/** The first line of a text, shortened for a table cell. */
export function firstLine(text: string, max = 120): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * An error (masked already) for a table cell: its first line, shortened; when that is not the whole of
 * it, the whole text opens under it (<details>: no script needed).
 */
export function errorText(error: string, max = 80): Html {
  const short = firstLine(error, max);
  if (short === error) return html`${error}`;
  return html`<details class="error-more"><summary>${short}</summary><pre>${error}</pre></details>`;
}
