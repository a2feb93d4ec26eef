import { findReferences } from "../templates.js";
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
 * Secret header values (Authorization, Cookie, API keys, anything named like a token or secret) are
 * masked in the recorded step input.
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
    throw new Error(`"endpoint" is not a valid URL: "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`"endpoint" must be an http(s) URL, got "${value}"`);
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
      throw new Error(`"${field}" is not valid JSON: ${value}`);
    }
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new Error(`"${field}" must be a JSON object of names to values`);
  }
  return Object.fromEntries(
    Object.entries(map).map(([name, inner]) => [
      name,
      inner !== null && typeof inner === "object" ? JSON.stringify(inner) : String(inner),
    ]),
  );
}
const parseHeaders = (value: unknown) => parseStringMap(value, "httpHeaders");
const parseQuery = (value: unknown) => parseStringMap(value, "httpQueryParams");

function parseTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new Error(`"timeoutMs" must be a positive number, got "${String(value)}"`);
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

async function readData(response: Response): Promise<unknown> {
  const text = await response.text();
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

/** Header names whose values never go into the step log. */
const SECRET_HEADER =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-auth-token)$|token|secret|password/i;

/** The config with secret header values masked, for the step log; unparseable headers are left as they are. */
function redactHeaders(config: Record<string, unknown>): Record<string, unknown> {
  let headers: Record<string, string>;
  try {
    headers = parseHeaders(config.httpHeaders);
  } catch {
    return config;
  }
  if (!Object.keys(headers).some((name) => SECRET_HEADER.test(name))) return config;
  const masked = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, SECRET_HEADER.test(name) ? "[redacted]" : value]),
  );
  return { ...config, httpHeaders: typeof config.httpHeaders === "string" ? JSON.stringify(masked) : masked };
}

export const httpRequestAction: ActionDefinition = {
  redact: redactHeaders,
  validate(config) {
    if (!hasTemplate(config.endpoint)) parseUrl(config.endpoint);
    parseMethod(config.httpMethod);
    if (!hasTemplate(config.httpHeaders)) parseHeaders(config.httpHeaders);
    if (!hasTemplate(config.httpQueryParams)) parseQuery(config.httpQueryParams);
    parseTimeout(config.timeoutMs);
  },
  async run(config, context) {
    const url = parseUrl(config.endpoint);
    const method = parseMethod(config.httpMethod);
    const headers = parseHeaders(config.httpHeaders);
    for (const [name, value] of Object.entries(parseQuery(config.httpQueryParams)))
      url.searchParams.append(name, value);
    const timeoutMs = parseTimeout(config.timeoutMs);
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
      data = await readData(response);
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      if (signal.aborted) throw new Error(`${method} ${url.href} timed out after ${timeoutMs}ms`);
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new Error(
        `${method} ${url.href} failed: ${(error as Error).message}${cause ? ` (${cause})` : ""}`,
      );
    }
    const output = { status: response.status, data, headers: Object.fromEntries(response.headers) };
    if (!response.ok) {
      throw new StepError(
        `${method} ${url.href} returned HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`,
        { output },
      );
    }
    return output;
  },
};
