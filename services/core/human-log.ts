import { pino } from "pino";

/**
 * Lines for a person, one layout for all of them: the time, a word for what happened, the text. khctl dev
 * prints its dispatches and runs this way, and its log records too (logger.ts `human`), so no raw JSON
 * line lands among them, on a terminal or not.
 */

/** The local time as HH:MM:SS. */
export const clockTime = (date: Date = new Date()): string => date.toTimeString().slice(0, 8);

/** `HH:MM:SS  what      text`. */
export function humanLine(what: string, text: string, date: Date = new Date()): string {
  return `${clockTime(date)}  ${what.padEnd(9)} ${text}`;
}

/** The fields of a pino record that every line has, or that the layout shows otherwise. */
const LAYOUT_FIELDS = new Set(["level", "time", "pid", "hostname", "service", "msg"]);

/** A field's value in words: strings as they are, errors by their message, the rest as JSON. */
function fieldText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && "message" in value) return String(value.message);
  return JSON.stringify(value);
}

/** A pino record's message and fields, `msg (key=value, …)`, without its level and time. */
function recordText(record: Record<string, unknown>): string {
  const fields = Object.entries(record)
    .filter(([key]) => !LAYOUT_FIELDS.has(key))
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const service = typeof record.service === "string" ? `${record.service}: ` : "";
  const message = fieldText(record.msg ?? "").trimEnd();
  return `${service}${message}${fields.length ? ` (${fields.join(", ")})` : ""}`;
}

const parseRecord = (line: string): Record<string, unknown> | undefined => {
  if (!line.startsWith("{")) return undefined;
  try {
    const record = JSON.parse(line) as unknown;
    return record && typeof record === "object" && "level" in record
      ? (record as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
};

/** One line of pino JSON as a human line; anything else as it is. */
export function humanLogLine(line: string): string {
  const record = parseRecord(line);
  if (!record) return line;
  const level = pino.levels.labels[Number(record.level)] ?? String(record.level);
  const time = typeof record.time === "number" ? new Date(record.time) : new Date();
  return humanLine(level, recordText(record), time);
}

/**
 * What a line another process wrote says, for quoting in an error (a runner's last line): a pino
 * record's message and fields, anything else as it is.
 */
export function logLineText(line: string): string {
  const record = parseRecord(line);
  return record ? recordText(record) : line;
}

/** A pino destination writing each record to stderr as a human line, synchronously (in order with the rest). */
export function humanLogDestination(write: (text: string) => void = (text) => process.stderr.write(text)) {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) write(`${humanLogLine(line)}\n`);
    },
  };
}
