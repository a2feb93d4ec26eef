import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The console's HTTP basics: the headers every response carries, its errors, the form reader, listen. */

/** Security headers on every response: no framing, no sniffing, only this origin's script and style. */
export const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  // same-origin, not no-referrer: with no-referrer the browser sends `Origin: null` on the console's own POSTs.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

export const TEXT = "text/plain; charset=utf-8";
export const HTML = "text/html; charset=utf-8";
// Room for a DLQ page's selection: 50 message ids of ~50 bytes each, and the token.
const MAX_FORM_BYTES = 16_384;

/** A request the console answers with this status and a page saying `message`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Writes a whole response, always with SECURITY_HEADERS. */
export function send(
  response: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  response.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, ...extra });
  response.end(body);
}

/** 303 to `location` (after a POST: the browser then GETs it). */
export const redirect = (response: ServerResponse, location: string): void =>
  send(response, 303, TEXT, "", { location });

/** A POST's urlencoded form, at most MAX_FORM_BYTES. */
export async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const type = request.headers["content-type"] ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    throw new HttpError(415, "the console's forms send application/x-www-form-urlencoded");
  }
  let body = "";
  for await (const chunk of request) {
    body += chunk;
    if (body.length > MAX_FORM_BYTES) throw new HttpError(413, "the form is too large");
  }
  return new URLSearchParams(body);
}

/** Listens on host:port; resolves with the port (the one chosen, for 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
