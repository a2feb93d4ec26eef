/**
 * A LIKE / ILIKE pattern that matches `text` literally: its `%`, `_` and `\` are escaped (the default
 * escape character), so a search for "100%" finds "100%", not everything that starts with "100".
 */
export function likePattern(text: string, match: "prefix" | "contains"): string {
  const literal = text.replace(/[\\%_]/g, (char) => `\\${char}`);
  return match === "prefix" ? `${literal}%` : `%${literal}%`;
}
