import { type Html, html } from "./html.js";

/** The page frame: one header with the navigation, one main, the stylesheet and the script. */

export const NAV = [
  { path: "/workflows", label: "Workflows" },
  { path: "/executions", label: "Executions" },
  { path: "/queue", label: "Queue" },
  { path: "/health", label: "Health" },
] as const;

export type Section = (typeof NAV)[number]["path"];

export interface PageFrame {
  readonly title: string;
  /** The navigation entry this page is under; none for the search. */
  readonly section: Section | undefined;
  /** What this console shows, e.g. "khctl dev on /var/tmp/…" or "stack local". */
  readonly pipeline: string;
  /** A one-line notice after an action (its text is fixed by the server, never taken from a request). */
  readonly notice?: Html;
  /** Attributes of <main> for the script (data-live-…). */
  readonly live?: string;
  /** What the header's search box holds (the search page's own text). */
  readonly searched?: string;
}

/** Longer than any name or id (pages/search.ts): a longer text is a mistake, said as one. */
export const SEARCH_MAX_LENGTH = 200;

/** The search box, in every page's header: a plain GET form, so it works without script. */
function searchBox(searched: string | undefined): Html {
  return html`<form method="get" action="/search" class="search" role="search" aria-label="Search">
<label for="search-text" class="visually-hidden">Workflow name or execution id</label>
<input type="search" id="search-text" name="q" value="${searched ?? ""}" placeholder="Workflow name or execution id" maxlength="${SEARCH_MAX_LENGTH}" autocomplete="off">
<button type="submit">Search</button>
</form>`;
}

export function page(frame: PageFrame, body: Html): string {
  const nav = NAV.map(
    (item) =>
      html`<li><a href="${item.path}"${item.path === frame.section ? html` aria-current="page"` : ""}>${item.label}</a></li>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · KeeperHub console</title>
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/console.js" defer></script>
<script src="/assets/filters.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<nav aria-label="Main"><a class="brand" href="/">KeeperHub</a><ul>${nav}</ul>${searchBox(frame.searched)}</nav>
<p class="pipeline">${frame.pipeline}</p>
</header>
<main id="main" tabindex="-1"${frame.live ? html` data-live="${frame.live}"` : ""}>
<h1>${frame.title}</h1>
${frame.notice ? html`<p class="notice" role="status">${frame.notice}</p>` : ""}
${body}
</main>
</body>
</html>
`.text;
}

/**
 * A POST button: a form with the per-process token, so a request from another site is refused. `what`
 * names its object for screen readers ("Trigger now: Say hello"), as a row's other buttons say the same.
 */
export function actionButton(action: string, label: string, token: string, what?: string): Html {
  const name = what ? html` aria-label="${label}: ${what}"` : "";
  return html`<form method="post" action="${action}" class="inline"><input type="hidden" name="token" value="${token}"><button type="submit"${name}>${label}</button></form>`;
}
