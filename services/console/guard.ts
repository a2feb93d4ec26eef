import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * What keeps other web pages away from the console. A page on another site can make the browser send
 * requests to 127.0.0.1: it must not be able to trigger, enable, disable, re-run, cancel, redrive, delete or
 * purge (cross-site request forgery), nor read pages through a name it resolves to 127.0.0.1 (DNS
 * rebinding). So:
 * - the Host header must name this console (a loopback name, or the address it was bound to);
 * - a POST must come from the console's own pages: Sec-Fetch-Site, when the browser sends it, is
 *   same-origin; Origin, when sent, is this console; and the form carries this process's token, which
 *   only the console's own pages contain.
 */

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export class RequestGuard {
  /** Put in every form; a POST without it is refused. New for each process. */
  readonly token = randomBytes(24).toString("base64url");
  private readonly hosts: Set<string> | undefined;

  /**
   * bindHost: the address the console listens on. Bound to a wildcard (in a container), any Host is
   * accepted: the address is then reachable under names this process cannot know.
   */
  constructor(bindHost: string, port: number) {
    this.hosts = WILDCARDS.has(bindHost)
      ? undefined
      : new Set(
          [...LOOPBACK_NAMES, bindHost.includes(":") ? `[${bindHost}]` : bindHost].map((h) => `${h}:${port}`),
        );
  }

  /** Whether the request names this console (see above). */
  hostAllowed(request: IncomingMessage): boolean {
    if (!this.hosts) return true;
    return this.hosts.has((request.headers.host ?? "").toLowerCase());
  }

  /** Why a POST is refused (one line), or undefined when it comes from the console's own page. */
  refusePost(request: IncomingMessage, form: URLSearchParams): string | undefined {
    const site = request.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin")
      return `a request from another site (${site}) is refused`;
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${request.headers.host}`) {
      return `a request from ${origin} is refused`;
    }
    const token = Buffer.from(form.get("token") ?? "");
    const expected = Buffer.from(this.token);
    if (token.length !== expected.length || !timingSafeEqual(token, expected)) {
      return "the form is stale or not from this console: reload the page and try again";
    }
    return undefined;
  }
}
