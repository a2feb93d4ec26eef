import { describe, expect, it } from "vitest";
import {
  clock,
  cronInWords,
  errorText,
  relativeTime,
  when,
  withTimes,
} from "../../services/console/format.js";
import { columnsOf, renderGraph } from "../../services/console/graph.js";
import { escapeHtml, html, query, trusted } from "../../services/console/html.js";
import { likePattern } from "../../services/db/like.js";

describe("html``", () => {
  it("escapes every interpolated text, in content and in attributes; fragments and trusted markup go in as they are", () => {
    const name = `<script>alert("x")</script> & 'quotes'`;
    const fragment = html`<b>${name}</b>`;
    expect(fragment.text).toBe(
      "<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;</b>",
    );
    expect(html`<a title="${name}">${fragment}</a>`.text).toBe(
      `<a title="${escapeHtml(name)}"><b>${escapeHtml(name)}</b></a>`,
    );
    expect(html`${[html`<i>1</i>`, "<2>", 3, null, undefined, false]}`.text).toBe("<i>1</i>&lt;2&gt;3");
    expect(html`${trusted("<hr>")}`.text).toBe("<hr>");
  });

  it("query() leaves out empty parameters and encodes the rest", () => {
    expect(query({ workflow: "a b&c", status: undefined, before: "" })).toBe("?workflow=a+b%26c");
    expect(query({})).toBe("");
  });
});

describe("the graph", () => {
  it("puts each node in the column of its longest path from a root, in the definition's order", () => {
    const nodes = ["t", "a", "b", "c", "d"].map((id) => ({ id, label: id }));
    const edges = [
      { source: "t", target: "a" },
      { source: "a", target: "b" },
      { source: "t", target: "c" },
      { source: "b", target: "d" },
      { source: "c", target: "d" },
    ];
    expect(Object.fromEntries(columnsOf(nodes, edges))).toEqual({ t: 0, a: 1, b: 2, c: 1, d: 3 });
  });

  it("draws every node with its status word and class, and every edge between known nodes", () => {
    const svg = renderGraph(
      [
        { id: "t", label: "Start", status: "success" },
        { id: "a", label: "Fetch <orders>", status: "error" },
        { id: "b", label: "Never ran" },
      ],
      [
        { source: "t", target: "a" },
        { source: "a", target: "b" },
        { source: "a", target: "gone" },
      ],
      "test graph",
    ).text;
    expect(svg).toContain('<g class="node step-error" data-node="a">');
    expect(svg).toContain("Fetch &lt;orders&gt;");
    expect(svg).toContain('<g class="node step-notrun" data-node="b">');
    expect(svg).toContain(">not run</text>");
    expect(svg.match(/class="edge"/g)).toHaveLength(2);
  });
});

describe("cron in words", () => {
  it("says a schedule in words with its time zone; 6 fields have seconds first; an expression it cannot say stays as it is", () => {
    expect(cronInWords("* * * * *", "UTC")).toBe("Every minute (UTC)");
    expect(cronInWords("30 0 9 * * 1-5", "Europe/Berlin")).toBe(
      "At 09:00:30, Monday through Friday (Europe/Berlin)",
    );
    expect(cronInWords("not a cron", "UTC")).toBe("not a cron (UTC)");
  });
});

describe("times, one format", () => {
  const now = new Date("2026-12-01T12:00:00.000Z");
  const at = (ms: number) => new Date(now.getTime() + ms);

  it("relative in the largest whole unit, past and future; none past 30 days", () => {
    expect(relativeTime(at(-400), now)).toBe("now");
    expect(relativeTime(at(-45_000), now)).toBe("45 s ago");
    expect(relativeTime(at(-150_000), now)).toBe("2 min ago");
    expect(relativeTime(at(-3 * 3600_000 - 59_000), now)).toBe("3 h ago");
    expect(relativeTime(at(-2 * 86400_000), now)).toBe("2 d ago");
    expect(relativeTime(at(5 * 60_000), now)).toBe("in 5 min");
    expect(relativeTime(at(-31 * 86400_000), now)).toBeUndefined();
  });

  it("when(): the relative time in a <time>, the absolute one on hover and in datetime; past a month the absolute", () => {
    expect(when(at(-120_000), now).text).toBe(
      '<time datetime="2026-12-01T11:58:00.000Z" title="2026-12-01 11:58:00 UTC">2 min ago</time>',
    );
    expect(when("2026-10-01T08:00:00.000Z", now).text).toBe(
      '<time datetime="2026-10-01T08:00:00.000Z" title="2026-10-01 08:00:00 UTC">2026-10-01 08:00:00 UTC</time>',
    );
    expect(when(null, now).text).toContain("–");
    expect(clock("2026-12-01T11:58:00.123Z").text).toContain('title="2026-12-01 11:58:00 UTC">11:58:00.123<');
  });

  it("withTimes(): the ISO instants in a terminal line become when()'s markup, khctl's (Ns ago) dropped; the rest is escaped", () => {
    const line = withTimes(
      "up since 2026-12-01T11:59:00.000Z, last 2026-12-01T11:00:00Z (3600s ago) <b>",
      now,
    ).text;
    expect(line).toBe(
      'up since <time datetime="2026-12-01T11:59:00.000Z" title="2026-12-01 11:59:00 UTC">1 min ago</time>, last <time datetime="2026-12-01T11:00:00Z" title="2026-12-01 11:00:00 UTC">1 h ago</time> &lt;b&gt;',
    );
    expect(line.replace(/datetime="[^"]*"/g, "")).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });
});

describe("errors in a list", () => {
  it("a short one as text; a long or multi-line one cut, with the whole text under <details>, escaped", () => {
    expect(errorText("HTTP 500").text).toBe("HTTP 500");
    const long = `${"x".repeat(100)} <end>\nsecond line`;
    const shown = errorText(long).text;
    expect(shown).toMatch(/^<details class="error-more"><summary>x{79}…<\/summary><pre>/);
    expect(shown).toContain("&lt;end&gt;\nsecond line</pre></details>");
  });
});

describe("LIKE patterns", () => {
  it("match the text literally: %, _ and \\ are escaped", () => {
    expect(likePattern("100%_a\\b", "contains")).toBe("%100\\%\\_a\\\\b%");
    expect(likePattern("abc", "prefix")).toBe("abc%");
  });
});
