/**
 * HTML built from template literals, escaped by default: `html\`<td>${name}</td>\`` escapes `name`; a
 * value that is already Html (another html`` fragment, or an array of them) goes in as it is. The only way
 * to put unescaped text in a page is `trusted()`, used for nothing that came from a request or the
 * database. Every page of the console is built with this, so a workflow named `<script>` is just text.
 */

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text made safe for element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string);
}

/** What may be interpolated: text and numbers (escaped), Html (as is), arrays of these, or nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let text = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) text += render(values[i] as HtmlValue) + (strings[i + 1] ?? "");
  return new Html(text);
}

/** Markup written in this code base (never data): goes in unescaped. */
export function trusted(text: string): Html {
  return new Html(text);
}

/** A query string from parameters, leaving out empty ones: `?workflow=a&status=b`, or "". */
export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}
