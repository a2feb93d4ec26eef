import { describe, expect, it } from "vitest";
import { cronInWords } from "../../services/console/format.js";
import { columnsOf, renderGraph } from "../../services/console/graph.js";
import { escapeHtml, html, query, trusted } from "../../services/console/html.js";

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
