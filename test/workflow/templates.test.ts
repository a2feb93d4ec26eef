import { describe, expect, it } from "vitest";
import {
  findReferences,
  pathOf,
  resolveString,
  resolveTemplates,
  type TemplateScope,
} from "../../services/workflow/templates.js";

const scope: TemplateScope = {
  outputs: new Map<string, unknown>([
    ["t", { triggeredAt: "2026-01-01T00:00:00.000Z", count: 3, user: { name: "Ada", tags: ["x", "y"] } }],
    ["h", { status: 200, data: { items: [{ id: 7 }] }, headers: {} }],
    ["n", null],
  ]),
  labelOf: (id) => ({ t: "Start", h: "v1.2 API", n: "Nothing" })[id],
};

describe("templates", () => {
  it("finds references with their node id", () => {
    expect(findReferences("a {{@t:Start.count}} b {{ @h:API }}").map((ref) => ref.nodeId)).toEqual([
      "t",
      "h",
    ]);
  });

  it("splits the path after the node's known label, even a label with dots", () => {
    expect(pathOf("v1.2 API.data.items[0].id", "v1.2 API")).toEqual(["data", "items", "0", "id"]);
    expect(pathOf("Renamed.status", "v1.2 API")).toEqual(["status"]);
    expect(pathOf("Start", "Start")).toEqual([]);
  });

  it("an exact template keeps the value's type", () => {
    expect(resolveString("{{@t:Start.count}}", scope)).toBe(3);
    expect(resolveString("{{@t:Start.user}}", scope)).toEqual({ name: "Ada", tags: ["x", "y"] });
    expect(resolveString("{{@h:v1.2 API.data.items[0].id}}", scope)).toBe(7);
    expect(resolveString("{{@t:Start}}", scope)).toMatchObject({ count: 3 });
    expect(resolveString("{{@t:Start.missing.deep}}", scope)).toBeUndefined();
    expect(resolveString("{{@n:Nothing}}", scope)).toBeNull();
  });

  it("inside a string, values are text (objects as JSON, null and missing as empty)", () => {
    expect(resolveString("n={{@t:Start.count}} u={{@t:Start.user}} x={{@t:Start.nope}}", scope)).toBe(
      'n=3 u={"name":"Ada","tags":["x","y"]} x=',
    );
  });

  it("resolves recursively through objects and arrays, leaving skipped keys alone", () => {
    const config = {
      actionType: "Echo",
      body: { who: "{{@t:Start.user.name}}", list: ["{{@t:Start.count}}", "#{{@h:API.status}}"] },
      condition: "{{@h:API.status}} === 200",
      n: 5,
    };
    expect(resolveTemplates(config, scope, ["condition"])).toEqual({
      actionType: "Echo",
      body: { who: "Ada", list: [3, "#200"] },
      condition: "{{@h:API.status}} === 200",
      n: 5,
    });
  });

  it("a reference to a node that has not run is a clear error", () => {
    const labels: TemplateScope = { outputs: new Map(), labelOf: (id) => (id === "x" ? "Later" : undefined) };
    expect(() => resolveString("{{@x:Later.a}}", labels)).toThrow(
      '{{@x:Later.a}} refers to node "x" (Later), which has not run or has no output',
    );
    expect(() => resolveString("{{@zz:Z}}", labels)).toThrow('refers to unknown node "zz"');
  });
});
