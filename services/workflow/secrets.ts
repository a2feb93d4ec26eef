/**
 * Masking what looks like a secret before it is recorded (step inputs and outputs, the execution's
 * output, error messages): values under names that look like secrets, at any depth (request and response
 * headers, body fields, output fields), query parameters with such names and passwords in URLs, in any
 * string. The run itself keeps the real values: templates of later steps read them.
 */

export const MASK = "[redacted]";

// Names whose values are secrets: authorization, cookies and sessions, keys, tokens, passwords, signatures.
// A name ending in "key" (apiKey, x-api-key, customKey) counts too: masking a harmless sortKey is the
// safe mistake.
const SECRET_NAME = /auth|cookie|session|token|secret|passw|pwd|keys?$|signature|credential|jwt/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

// A URL inside any text: scheme, then everything up to a space or a quote.
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi;

/** A URL with its password and secret-looking query values masked; other text as it is. */
export function maskUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  let changed = false;
  if (url.password) {
    url.password = MASK;
    changed = true;
  }
  for (const name of new Set(url.searchParams.keys())) {
    if (!isSecretName(name)) continue;
    url.searchParams.set(name, MASK);
    changed = true;
  }
  return changed ? url.href : text;
}

/** A string with every URL in it masked (an error message that names the request's URL). */
export function maskText(text: string): string {
  return text.includes("://") ? text.replace(URL_IN_TEXT, maskUrl) : text;
}

/**
 * A copy of `value` with secrets masked: the value under a secret-looking name becomes MASK, strings
 * have their URLs masked. Iterative; shared substructures are copied once.
 */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === "string") return maskText(value);
  if (value === null || typeof value !== "object") return value;
  const root: { value: unknown } = { value: undefined };
  const work: { source: object; target: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const copy = (source: object, parent: Record<string, unknown> | unknown[], key: string | number) => {
    const target: Record<string, unknown> | unknown[] = Array.isArray(source) ? [] : {};
    (parent as Record<string | number, unknown>)[key] = target;
    work.push({ source, target, key });
  };
  copy(value, root as unknown as Record<string, unknown>, "value");
  while (work.length > 0) {
    const { source, target } = work.pop() as (typeof work)[number];
    for (const [key, inner] of Object.entries(source)) {
      const slot = Array.isArray(target) ? Number(key) : key;
      if (
        !Array.isArray(source) &&
        isSecretName(key) &&
        inner !== null &&
        inner !== undefined &&
        inner !== ""
      ) {
        (target as Record<string | number, unknown>)[slot] = MASK;
      } else if (typeof inner === "string") {
        (target as Record<string | number, unknown>)[slot] = maskText(inner);
      } else if (inner !== null && typeof inner === "object") {
        copy(inner, target, slot);
      } else {
        (target as Record<string | number, unknown>)[slot] = inner;
      }
    }
  }
  return root.value;
}
