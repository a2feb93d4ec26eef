import { RUNNER_SETTINGS } from "../../contracts/settings.js";
import { MAX_TIMER_MS, readSettings } from "../../core/settings.js";
import { maskSecrets, maskText, maskUrl } from "../secrets.js";
import { findReferences } from "../templates.js";
import { MAX_VALUE_DEPTH, nestingProblem } from "../values.js";
import { type ActionDefinition, StepError } from "./registry.js";

/**
 * `HTTP Request`, with KeeperHub's config fields:
 * - `endpoint`: the http(s) URL (required).
 * - `httpMethod`: GET (default), POST, PUT, DELETE or PATCH.
 * - `httpHeaders`: an object, or a JSON string of one; values are sent as strings.
 * - `httpBody`: an object/array (sent as JSON), or a string (sent as is; JSON by default content type);
 *   ignored for GET.
 * - `httpQueryParams`: an object, or a JSON string of one, appended to the endpoint's query string.
 * - `timeoutMs`: this request's own timeout in milliseconds (optional; the step timeout always applies).
 *
 * - `maxResponseBytes`: the most of a response body read (default HTTP_MAX_RESPONSE_BYTES, 10 MiB): the
 *   body is read as it streams and a larger one fails the step, so a huge or endless response cannot
 *   exhaust the runner's memory.
 *
 * Secrets (header values, query parameters and body fields named like a token, key, password, ...) are
 * masked in what is recorded; errors name the URL with them masked.
 *
 * Output `{status, data, headers}`: `data` is parsed when the response is JSON, else the text. A non-2xx
 * response is a step error that still records that output.
 */
export const HTTP_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"] as const;
type HttpMethod = (typeof HTTP_METHODS)[number];

const hasTemplate = (value: unknown) => typeof value === "string" && findReferences(value).length > 0;

function parseMethod(value: unknown): HttpMethod {
  const method = value === undefined || value === null || value === "" ? "GET" : String(value).toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) {
    throw new Error(`"httpMethod" must be one of ${HTTP_METHODS.join(", ")}, got "${String(value)}"`);
  }
  return method as HttpMethod;
}

function parseUrl(value: unknown): URL {
  if (typeof value !== "string" || !value.trim()) throw new Error('"endpoint" must be a non-empty URL');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new Error(`"endpoint" is not a valid URL: "${maskText(value)}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`"endpoint" must be an http(s) URL, got "${maskText(value)}"`);
  }
  // fetch refuses a URL with credentials at run time: refuse it when the workflow is saved instead.
  if (url.username || url.password) {
    throw new Error(
      `"endpoint" must not hold credentials (user:password@ in ${maskUrl(url.href)}): send them as an "Authorization" header in "httpHeaders" (a template can read them from the run's input)`,
    );
  }
  return url;
}

/** A string map from an object or a JSON string of one (headers, query parameters); empty when unset. */
function parseStringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null || value === "") return {};
  let map = value;
  if (typeof value === "string") {
    try {
      map = JSON.parse(value);
    } catch {
      // Not the text itself: it may be a header holding a secret.
      throw new Error(`"${field}" is not valid JSON: give an object, or a JSON string of one`);
    }
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new Error(`"${field}" must be a JSON object of names to values`);
  }
  // Nested values are sent as JSON text: one too deep to serialise is refused here, in one line.
  if (nestingProblem(map, field))
    throw new Error(`"${field}" nests more than ${MAX_VALUE_DEPTH} levels deep`);
  return Object.fromEntries(
    Object.entries(map).map(([name, inner]) => [
      name,
      inner !== null && typeof inner === "object" ? JSON.stringify(inner) : String(inner),
    ]),
  );
}
const parseHeaders = (value: unknown) => parseStringMap(value, "httpHeaders");
const parseQuery = (value: unknown) => parseStringMap(value, "httpQueryParams");

/** The node's `maxResponseBytes`, else the runner's HTTP_MAX_RESPONSE_BYTES (default 10 MiB). */
function parseLimit(value: unknown): number {
  if (value === undefined || value === null || value === "") {
    return readSettings({ limit: RUNNER_SETTINGS.httpMaxResponseBytes }).limit;
  }
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(`"maxResponseBytes" must be a whole number of bytes >= 1, got "${String(value)}"`);
  }
  return limit;
}

function parseTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
    throw new Error(`"timeoutMs" must be a number of ms from 1 to ${MAX_TIMER_MS}, got "${String(value)}"`);
  }
  return ms;
}

/** The request body and its default content type; undefined when there is none. */
function encodeBody(value: unknown): { body: string; contentType: string } | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") {
    let json = true;
    try {
      JSON.parse(value);
    } catch {
      json = false;
    }
    return { body: value, contentType: json ? "application/json" : "text/plain; charset=utf-8" };
  }
  return { body: JSON.stringify(value), contentType: "application/json" };
}

/** The response body as text, read as it streams; past `limit` bytes the read stops with an error. */
async function readText(response: Response, limit: number, what: string): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new Error(
        `${what}: the response is larger than ${limit} bytes (raise "maxResponseBytes" on the node, or ${RUNNER_SETTINGS.httpMaxResponseBytes.env})`,
      );
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}

async function readData(response: Response, limit: number, what: string): Promise<unknown> {
  const text = await readText(response, limit, what);
  const type = response.headers.get("content-type") ?? "";
  if (/\bjson\b/i.test(type) && text.trim()) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/**
 * The config as the step log shows it: headers, query parameters and a body given as JSON strings are
 * masked like objects (the engine masks objects and URLs itself, workflow/secrets.ts).
 */
function redactJsonStrings(config: Record<string, unknown>): Record<string, unknown> {
  const masked = { ...config };
  for (const field of ["httpHeaders", "httpQueryParams", "httpBody"]) {
    const value = config[field];
    if (typeof value !== "string") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      continue; // Not JSON: the engine still masks URLs in it.
    }
    // Too deep to serialise again (a template can put any text here): shown as what it is, not as itself.
    masked[field] = nestingProblem(parsed, field)
      ? `[not shown: nested more than ${MAX_VALUE_DEPTH} levels deep]`
      : JSON.stringify(maskSecrets(parsed));
  }
  return masked;
}

export const httpRequestAction: ActionDefinition = {
  redact: redactJsonStrings,
  validate(config) {
    if (!hasTemplate(config.endpoint)) parseUrl(config.endpoint);
    parseMethod(config.httpMethod);
    if (!hasTemplate(config.httpHeaders)) parseHeaders(config.httpHeaders);
    if (!hasTemplate(config.httpQueryParams)) parseQuery(config.httpQueryParams);
    parseTimeout(config.timeoutMs);
    if (config.maxResponseBytes !== undefined) parseLimit(config.maxResponseBytes);
  },
  async run(config, context) {
    const url = parseUrl(config.endpoint);
    const method = parseMethod(config.httpMethod);
    const headers = parseHeaders(config.httpHeaders);
    for (const [name, value] of Object.entries(parseQuery(config.httpQueryParams)))
      url.searchParams.append(name, value);
    const timeoutMs = parseTimeout(config.timeoutMs);
    const limit = parseLimit(config.maxResponseBytes);
    // Errors (recorded, logged) name the URL with its secrets masked.
    const what = `${method} ${maskUrl(url.href)}`;
    const encoded = method === "GET" ? undefined : encodeBody(config.httpBody);
    if (encoded && !Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) {
      headers["content-type"] = encoded.contentType;
    }
    const signal =
      timeoutMs === undefined
        ? context.signal
        : AbortSignal.any([context.signal, AbortSignal.timeout(timeoutMs)]);
    let response: Response;
    let data: unknown;
    try {
      response = await fetch(url, { method, headers, body: encoded?.body, signal });
      data = await readData(response, limit, what);
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      if (signal.aborted) throw new Error(`${what} timed out after ${timeoutMs}ms`);
      if ((error as Error).message.startsWith(`${what}: `)) throw error;
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new Error(`${what} failed: ${(error as Error).message}${cause ? ` (${cause})` : ""}`);
    }
    const output = { status: response.status, data, headers: Object.fromEntries(response.headers) };
    if (!response.ok) {
      throw new StepError(
        `${what} returned HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
        { output },
      );
    }
    return output;
  },
};
