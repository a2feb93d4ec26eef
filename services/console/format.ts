import cronstrue from "cronstrue";
import { formatDuration } from "../core/duration.js";
import { shownText, shownValue } from "../workflow/shown.js";
import { type Html, html } from "./html.js";

/** How the console writes times, durations, statuses and values. */

/** `2026-12-01 12:00:01 UTC` in a <time> element (the machine-readable instant in datetime). */
export function when(date: Date | string | null | undefined): Html {
  if (!date) return html`<span class="none">–</span>`;
  const iso = typeof date === "string" ? date : date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")} UTC</time>`;
}

/** `17:45:31.123` (UTC) in a <time> element: a step's start, on the day its execution shows. */
export function clock(date: Date | string | null | undefined): Html {
  if (!date) return html`<span class="none">–</span>`;
  const iso = typeof date === "string" ? date : date.toISOString();
  return html`<time datetime="${iso}" title="${iso}">${iso.slice(11, 23)}</time>`;
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
