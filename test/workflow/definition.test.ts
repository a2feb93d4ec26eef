import { describe, expect, it } from "vitest";
import { registerAction } from "../../services/workflow/actions/index.js";
import { validateWorkflow, WorkflowValidationError } from "../../services/workflow/definition.js";
import { action, edges, testRegistry, trigger, workflow } from "./fixtures.js";

const registry = testRegistry();
const validate = (input: unknown) => validateWorkflow(input, { registry });
const http = (id: string, extra: { label?: string } = {}) =>
  action(id, "HTTP Request", { endpoint: "http://127.0.0.1:1/x", httpMethod: "GET" }, extra);

describe("validateWorkflow", () => {
  it("accepts a KeeperHub workflow, keeping editor fields, and defaults edges and labels", () => {
    const input = workflow(
      [trigger(), http("h"), action("c", "Condition", { condition: "{{@h:H.status}} === 200" })],
      edges("t->h", "h->c"),
    );
    const definition = validate(input);
    expect(definition.nodes[0]).toMatchObject({ id: "t", position: { x: 0, y: 0 } });
    expect(
      validate({ name: "x", nodes: [{ id: "only", data: { type: "trigger", config: {} } }] }).edges,
    ).toEqual([]);
  });

  it.each([
    [
      "not an object",
      "nope",
      /^the top level must be one workflow object \{name, description\?, nodes, edges\}, not a string$/,
    ],
    [
      "an array",
      [{ name: "x" }],
      /^the top level must be one workflow object .*, not an array \(one workflow per file\)$/,
    ],
    ["no name", { nodes: [trigger()], edges: [] }, /^name: /],
    ["no nodes", { name: "x", nodes: [], edges: [] }, /nodes must hold at least the trigger/],
    [
      "bad node type",
      workflow([trigger(), { id: "n", data: { type: "step", label: "N", config: {} } }], []),
      /^node "n" \(N\): data\.type: must be "trigger" or "action"$/,
    ],
    [
      "duplicate node id",
      workflow([trigger(), http("h"), http("h", { label: "Other" })], edges("t->h")),
      /^node "h" \(Other\): duplicate node id "h"/,
    ],
    [
      "duplicate edge id",
      workflow(
        [trigger(), http("h")],
        [
          { id: "e", source: "t", target: "h" },
          { id: "e", source: "t", target: "h" },
        ],
      ),
      /^edge "e" \(t -> h\): duplicate edge id "e"/,
    ],
    [
      "edge to a missing node",
      workflow([trigger(), http("h")], edges("t->h", "h->ghost")),
      /^edge "h-ghost" \(h -> ghost\): target node "ghost" does not exist/,
    ],
    [
      "edge from a missing node",
      workflow([trigger(), http("h")], edges("t->h", "ghost->h")),
      /source node "ghost" does not exist/,
    ],
    ["no trigger", workflow([http("h")], []), /workflow has no trigger/],
    [
      "two triggers",
      workflow([trigger("t1"), trigger("t2")], []),
      /workflow has 2 triggers \(node "t1" \(Start\), node "t2" \(Start\)\); exactly one is allowed/,
    ],
    [
      "trigger with incoming edges",
      workflow([trigger(), http("h")], edges("t->h", "h->t")),
      /^node "t" \(Start\): a trigger cannot have incoming edges \(from "h"\)/,
    ],
    [
      "unknown trigger type",
      workflow([trigger("t", { triggerType: "Cron" })], []),
      /^node "t" \(Start\): unknown trigger type "Cron" \(known: Manual, Schedule, Webhook\)/,
    ],
    [
      "Schedule without cron",
      workflow([trigger("t", { triggerType: "Schedule" })], []),
      /^node "t" \(Start\): a Schedule trigger needs config.scheduleCron/,
    ],
    [
      "Schedule with a bad cron",
      workflow([trigger("t", { triggerType: "Schedule", scheduleCron: "99 * * * *" })], []),
      /^node "t" \(Start\): invalid cron "99 \* \* \* \*"/,
    ],
    [
      "Schedule with a bad time zone",
      workflow(
        [trigger("t", { triggerType: "Schedule", scheduleCron: "* * * * *", scheduleTimezone: "Moon/Base" })],
        [],
      ),
      /unknown time zone "Moon\/Base"/,
    ],
    [
      "unknown action type",
      workflow([trigger(), action("x", "HTTP Requets", {}, { label: "Call" })], edges("t->x")),
      /^node "x" \(Call\): unknown action type "HTTP Requets" \(known: .*HTTP Request/,
    ],
    [
      "missing actionType",
      workflow([trigger(), { id: "x", data: { type: "action", label: "X", config: {} } }], edges("t->x")),
      /^node "x" \(X\): config.actionType is missing/,
    ],
    [
      "bad HTTP config",
      workflow(
        [trigger(), action("h", "HTTP Request", { endpoint: "ftp://x", httpMethod: "GET" })],
        edges("t->h"),
      ),
      /^node "h" \(H\): HTTP Request: "endpoint" must be an http\(s\) URL/,
    ],
    [
      "bad HTTP method",
      workflow(
        [trigger(), action("h", "HTTP Request", { endpoint: "http://x", httpMethod: "FETCH" })],
        edges("t->h"),
      ),
      /"httpMethod" must be one of GET, POST, PUT, DELETE, PATCH/,
    ],
    [
      "bad condition",
      workflow([trigger(), action("c", "Condition", { condition: "alert(1)" })], edges("t->c")),
      /^node "c" \(C\): Condition: function calls are not allowed/,
    ],
    [
      "cycle",
      workflow([trigger(), http("a"), http("b"), http("c")], edges("t->a", "a->b", "b->c", "c->a")),
      /^node "a" \(A\): cycle a -> b -> c -> a$/,
    ],
    ["self loop", workflow([trigger(), http("a")], edges("t->a", "a->a")), /cycle a -> a$/],
    [
      "unreachable node",
      workflow([trigger(), http("a"), http("lost", { label: "Lost" })], edges("t->a")),
      /^node "lost" \(Lost\): not reachable from the trigger "t"; connect it or remove it/,
    ],
    [
      "template to an unknown node",
      workflow([trigger(), action("e", "Echo", { x: "{{@ghost:Ghost.y}}" })], edges("t->e")),
      /^node "e" \(E\): template refers to unknown node "ghost"/,
    ],
    [
      "template naming a node by a misspelt label",
      workflow(
        [
          trigger(),
          http("price", { label: "Get Price" }),
          action("e", "Echo", { x: "{{@price:Get Prices.data.price}}" }),
        ],
        edges("t->price", "price->e"),
      ),
      /^node "e" \(E\): template \{\{@price:Get Prices\.data\.price\}\} names node "price" by the label "Get Prices", but its label is "Get Price"$/,
    ],
    [
      "template to a node not upstream",
      workflow([trigger(), http("a"), action("e", "Echo", { x: "{{@a:A.status}}" })], edges("t->a", "t->e")),
      /^node "e" \(E\): template refers to node "a" \(A\), which is not upstream of it/,
    ],
  ])("rejects %s with one line naming the node and the problem", (_, input, message) => {
    let thrown: unknown;
    try {
      validate(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain("\n");
  });

  it("throws WorkflowValidationError for graph problems", () => {
    expect(() => validate(workflow([trigger(), http("a")], []))).toThrow(WorkflowValidationError);
  });

  it("accepts an action type a plugin registered with one call", () => {
    const input = workflow([trigger(), action("p", "Plugin Step Test")], edges("t->p"));
    expect(() => validateWorkflow(input)).toThrow(/unknown action type "Plugin Step Test"/);
    registerAction("Plugin Step Test", { run: async () => ({ ok: true }) });
    expect(validateWorkflow(input).nodes).toHaveLength(2);
    expect(() => registerAction("Plugin Step Test", { run: async () => ({}) })).toThrow(/already registered/);
  });

  it("accepts a Schedule trigger with a 6-field cron and a time zone, and a template with a dotted label", () => {
    const input = workflow(
      [
        trigger("t", {
          triggerType: "Schedule",
          scheduleCron: "0 */5 * * * *",
          scheduleTimezone: "Europe/Berlin",
        }),
        http("h", { label: "v1.2 API" }),
        action("e", "Echo", { s: "{{@h:v1.2 API.data.items[0]}}" }),
      ],
      edges("t->h", "h->e", "t->e"),
    );
    expect(validate(input).nodes).toHaveLength(3);
  });
});
