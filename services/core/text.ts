/**
 * Text Postgres can store: it refuses U+0000 in text and jsonb, and lone UTF-16 surrogates in jsonb.
 * Definitions and inputs holding them are refused (workflow/values.ts); step outputs, which come from
 * outside, get U+FFFD in their place (db/json.ts).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what is looked for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

/** The first character Postgres cannot store, with its index and in words; null when there is none. */
export function findUnstorable(text: string): { index: number; what: string } | null {
  const found = UNSTORABLE.exec(text);
  if (!found) return null;
  return { index: found.index, what: found[0] === "\u0000" ? "U+0000 (NUL)" : "a lone UTF-16 surrogate" };
}

/** `text` with every character Postgres cannot store replaced by U+FFFD. */
export function toStorableText(text: string): string {
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, "\ufffd") : text;
}
