import { toStorableText } from "../core/text.js";

/**
 * How values are stored in jsonb columns (step inputs and outputs, the execution's input and output):
 * bounded, so one large HTTP response cannot bloat the database or the runner writing it, and with the
 * characters Postgres refuses replaced (U+0000 and lone surrogates become U+FFFD).
 */

/** A stored value larger than this, as JSON, is kept as a preview with its full size. */
export const MAX_STORED_BYTES = 64 * 1024;
/** How much of a large value the preview keeps, in characters of its JSON. */
export const PREVIEW_CHARS = 4 * 1024;

/** What a value too large to store is stored as. */
export interface TruncatedValue {
  readonly truncated: true;
  /** Size of the whole value as JSON, bytes. */
  readonly bytes: number;
  /** Its JSON's first PREVIEW_CHARS characters. */
  readonly preview: string;
}

/** JSON Postgres can store; an undefined value is SQL NULL. */
function storableJson(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value, (_key, inner) => (typeof inner === "string" ? toStorableText(inner) : inner));
}

/** The value as a jsonb parameter: itself, or a TruncatedValue when its JSON is over MAX_STORED_BYTES. */
export function toStoredJson(value: unknown): string | null {
  const json = storableJson(value);
  if (json === null) return null;
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes <= MAX_STORED_BYTES) return json;
  const truncated: TruncatedValue = { truncated: true, bytes, preview: json.slice(0, PREVIEW_CHARS) };
  return JSON.stringify(truncated);
}

/** Whether a value would be stored truncated (the run's output then points at the step log instead). */
export function isLargeValue(value: unknown): boolean {
  const json = storableJson(value);
  return json !== null && Buffer.byteLength(json, "utf8") > MAX_STORED_BYTES;
}
