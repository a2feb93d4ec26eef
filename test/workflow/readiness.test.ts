import { describe, expect, it } from "vitest";
import type { WorkflowNode } from "../../services/workflow/definition.js";
import {
  dispositionOf,
  type NodeState,
  readyChildren,
  type Stop,
} from "../../services/workflow/readiness.js";
import { action as actionFixture, trigger as triggerFixture } from "./fixtures.js";

const action = (...args: Parameters<typeof actionFixture>) => actionFixture(...args) as WorkflowNode;
const trigger = () => triggerFixture() as WorkflowNode;

// The engine's scheduling rules as pure functions: no actions run.

/** t -> a, t -> b, a -> join, b -> join */
const graph = {
  children: new Map([
    ["t", ["a", "b"]],
    ["a", ["join"]],
    ["b", ["join"]],
    ["join", []],
  ]),
  parents: new Map([
    ["t", []],
    ["a", ["t"]],
    ["b", ["t"]],
    ["join", ["a", "b"]],
  ]),
};
const states = (entries: Record<string, NodeState>) => new Map(Object.entries(entries));

describe("readyChildren", () => {
  it("a finished node readies each waiting child at once (parallel branches)", () => {
    expect(
      readyChildren(graph, states({ t: "success", a: "waiting", b: "waiting", join: "waiting" }), "t"),
    ).toEqual(["a", "b"]);
  });

  it("a join waits for every parent, whatever way each ended", () => {
    const oneDone = states({ t: "success", a: "success", b: "running", join: "waiting" });
    expect(readyChildren(graph, oneDone, "a")).toEqual([]);
    const bothDone = states({ t: "success", a: "success", b: "error", join: "waiting" });
    expect(readyChildren(graph, bothDone, "b")).toEqual(["join"]);
  });

  it("never readies a node twice", () => {
    expect(
      readyChildren(graph, states({ t: "success", a: "success", b: "success", join: "running" }), "b"),
    ).toEqual([]);
  });
});

describe("dispositionOf", () => {
  const failed: Stop = { kind: "failed", reason: 'upstream node "a" did not succeed' };
  const gate: Stop = { kind: "gate", reason: 'condition of node "c" was false' };

  it("runs a node no parent stopped; a disabled one passes through; a trigger always runs", () => {
    expect(dispositionOf(action("x", "HTTP Request", {}), [])).toEqual({ kind: "run" });
    expect(dispositionOf(action("x", "HTTP Request", {}, { enabled: false }), [])).toEqual({
      kind: "pass-through",
    });
    expect(dispositionOf({ ...trigger(), data: { ...trigger().data, enabled: false } }, [])).toEqual({
      kind: "run",
    });
  });

  it("skips below a stop, and a failure wins over a closed gate", () => {
    expect(dispositionOf(action("x", "HTTP Request", {}), [gate])).toEqual({ kind: "skip", stop: gate });
    expect(dispositionOf(action("x", "HTTP Request", {}), [gate, failed])).toEqual({
      kind: "skip",
      stop: failed,
    });
    // A disabled node below a stop is skipped too: the stop goes on down.
    expect(dispositionOf(action("x", "HTTP Request", {}, { enabled: false }), [gate])).toEqual({
      kind: "skip",
      stop: gate,
    });
  });
});
