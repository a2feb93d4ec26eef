import { describe, expect, it } from "vitest";
import { validateWorkflow, WorkflowValidationError } from "../../services/workflow/definition.js";
import { MAX_VALUE_DEPTH, nestingProblem } from "../../services/workflow/values.js";
import { action, trigger, workflow } from "./fixtures.js";

// Valid workflows of any size validate (iteratively, in linear time: the bench measures it); values that
// would break later are refused up front, naming the node and the field.

const chain = (length: number, reference = false) => {
  const nodes: unknown[] = [trigger()];
  const edges: unknown[] = [];
  let previous = "t";
  for (let i = 0; i < length; i++) {
    const id = `n${i}`;
    const config =
      reference && i > 0
        ? { condition: `{{@${previous}:${previous.toUpperCase()}.result}} || true` }
        : { condition: "true" };
    nodes.push(action(id, "Condition", config));
    edges.push({ id: `${previous}->${id}`, source: previous, target: id });
    previous = id;
  }
  return workflow(nodes, edges);
};

describe("large workflows", () => {
  it("validates a 10,000-node chain whose every node reads its parent", () => {
    expect(validateWorkflow(chain(10_000, true)).nodes).toHaveLength(10_001);
  });

  it("validates a 10,000-node fan-out from the trigger", () => {
    const nodes: unknown[] = [trigger()];
    const edges: unknown[] = [];
    for (let i = 0; i < 10_000; i++) {
      nodes.push(action(`n${i}`, "Condition", { condition: "{{@t:Start.triggeredAt}} !== null" }));
      edges.push({ source: "t", target: `n${i}` });
    }
    expect(validateWorkflow(workflow(nodes, edges)).nodes).toHaveLength(10_001);
  });

  it("still reports a cycle in a long chain as its path", () => {
    const long = chain(5_000) as { edges: unknown[] };
    long.edges.push({ id: "back", source: "n4999", target: "n4990" });
    expect(() => validateWorkflow(long)).toThrow(
      /node "n4990" \(N4990\): cycle n4990 -> n4991 -> .* -> n4999 -> n4990$/,
    );
  });

  it("refuses a template that reads a node that is not upstream, in a long chain", () => {
    const long = chain(3_000) as { nodes: { id: string; data: { config: Record<string, unknown> } }[] };
    const first = long.nodes[1] as { data: { config: Record<string, unknown> } };
    first.data.config.condition = "{{@n2999:N2999.result}}";
    expect(() => validateWorkflow(long)).toThrow(
      /node "n0" \(N0\): template refers to node "n2999" \(N2999\), which is not upstream of it/,
    );
  });

  it("refuses a config nested deeper than the limit, naming the node and the path", () => {
    let deep: unknown = "leaf";
    for (let i = 0; i < 5_000; i++) deep = { a: deep };
    const definition = workflow(
      [trigger(), action("h", "HTTP Request", { endpoint: "http://127.0.0.1:1/", httpBody: deep })],
      [{ source: "t", target: "h" }],
    );
    expect(() => validateWorkflow(definition)).toThrow(
      new WorkflowValidationError(
        `node "h" (H): config.httpBody${".a".repeat(MAX_VALUE_DEPTH - 1)}: nested more than ${MAX_VALUE_DEPTH} levels deep; flatten it`,
      ),
    );
  });

  it("finds a value nested past the limit at any depth without recursion, naming the first path too deep", () => {
    const nest = (levels: number, wrap: (inner: unknown) => unknown) => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = wrap(value);
      return value;
    };
    expect(
      nestingProblem(
        nest(MAX_VALUE_DEPTH, (inner) => ({ a: inner })),
        "output",
      ),
    ).toBeNull();
    expect(
      nestingProblem(
        nest(MAX_VALUE_DEPTH + 1, (inner) => ({ a: inner })),
        "output",
      )?.message,
    ).toBe(`output${".a".repeat(MAX_VALUE_DEPTH)}: nested more than ${MAX_VALUE_DEPTH} levels deep`);
    expect(nestingProblem({ ok: [1], list: nest(200_000, (inner) => [inner]) }, "v")?.path).toBe(
      `v.list${"[0]".repeat(MAX_VALUE_DEPTH - 1)}`,
    );
  });

  it("refuses text Postgres cannot store (NUL, lone surrogates), naming the node and the field", () => {
    const withText = (text: string) =>
      workflow(
        [
          trigger(),
          action("h", "HTTP Request", { endpoint: "http://127.0.0.1:1/", httpBody: { note: text } }),
        ],
        [{ source: "t", target: "h" }],
      );
    expect(() => validateWorkflow(withText("a\u0000b"))).toThrow(
      'node "h" (H): config.httpBody.note: contains U+0000 (NUL) at character 1, which cannot be stored',
    );
    expect(() => validateWorkflow(withText("x\ud800"))).toThrow(
      /config\.httpBody\.note: contains a lone UTF-16 surrogate/,
    );
    expect(validateWorkflow(withText("emoji \ud83d\ude00 fine")).nodes).toHaveLength(2);
  });
});
