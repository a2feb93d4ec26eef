import { describe, expect, it } from "vitest";
import type { ActionContext } from "../../services/workflow/actions/registry.js";
import { validateWorkflow, type WorkflowDefinition } from "../../services/workflow/definition.js";
import {
  type RunWorkflowOptions,
  runWorkflow,
  type StepEndEvent,
  type StepStartEvent,
} from "../../services/workflow/engine.js";
import { action, edges, latch, testRegistry, trigger, workflow } from "./fixtures.js";

type Hook = (config: Record<string, unknown>, context: ActionContext) => Promise<unknown>;

/** Runs a workflow with a test registry, recording the start/end events in order. */
async function run(input: unknown, hook?: Hook, options: RunWorkflowOptions = {}) {
  const registry = testRegistry(hook);
  const definition: WorkflowDefinition = validateWorkflow(input, { registry });
  const events: string[] = [];
  const ends = new Map<string, StepEndEvent>();
  const starts = new Map<string, StepStartEvent>();
  const result = await runWorkflow(definition, {
    registry,
    stepTimeoutMs: 5_000,
    ...options,
    onStepStart: async (event) => {
      events.push(`start ${event.nodeId}`);
      starts.set(event.nodeId, event);
      await options.onStepStart?.(event);
    },
    onStepEnd: async (event) => {
      events.push(`end ${event.nodeId}`);
      ends.set(event.nodeId, event);
      await options.onStepEnd?.(event);
    },
  });
  return { result, events, ends, starts };
}

/** A Hook that waits until told to finish each node: `release(id)`. */
function gates() {
  const waiting = new Map<string, ReturnType<typeof latch>>();
  const started = new Map<string, ReturnType<typeof latch>>();
  const get = (map: Map<string, ReturnType<typeof latch>>, id: string) => {
    if (!map.has(id)) map.set(id, latch());
    return map.get(id) as ReturnType<typeof latch>;
  };
  const hook: Hook = async (config, context) => {
    get(started, context.nodeId).open();
    await get(waiting, context.nodeId).opened;
    return { node: context.nodeId, ...config };
  };
  return {
    hook,
    release: (id: string) => get(waiting, id).open(),
    started: (id: string) => get(started, id).opened,
  };
}

describe("runWorkflow", () => {
  it("runs the trigger first with {triggeredAt, ...input}, then the rest; success with leaf outputs", async () => {
    const triggeredAt = new Date("2026-02-03T04:05:06.000Z");
    const { result, events, ends } = await run(
      workflow([trigger(), action("e", "Echo", { n: "{{@t:Start.n}}" })], edges("t->e")),
      undefined,
      { input: { n: 42 }, triggeredAt },
    );
    expect(events).toEqual(["start t", "end t", "start e", "end e"]);
    expect(ends.get("t")).toMatchObject({
      status: "success",
      nodeType: "trigger",
      output: { triggeredAt: "2026-02-03T04:05:06.000Z", n: 42 },
    });
    expect(result).toMatchObject({ status: "success", output: { e: { n: 42 } } });
    expect(result.error).toBeUndefined();
  });

  it("join: a node starts only after all its parents have finished", async () => {
    const g = gates();
    const aEnded = latch();
    const seen: string[] = [];
    const pending = run(
      workflow(
        [trigger(), action("a", "Hook"), action("b", "Hook"), action("j", "Echo")],
        edges("t->a", "t->b", "a->j", "b->j"),
      ),
      g.hook,
      {
        onStepStart: (event) => {
          seen.push(event.nodeId);
        },
        onStepEnd: (event) => {
          if (event.nodeId === "a") aEnded.open();
        },
      },
    );
    await Promise.all([g.started("a"), g.started("b")]);
    g.release("a");
    await aEnded.opened;
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).not.toContain("j"); // a is done, b is not: j waits
    g.release("b");
    const { events, result } = await pending;
    expect(result.status).toBe("success");
    const index = (event: string) => events.indexOf(event);
    expect(index("start j")).toBeGreaterThan(index("end a"));
    expect(index("start j")).toBeGreaterThan(index("end b"));
    expect(events.filter((event) => event === "start j")).toHaveLength(1);
  });

  it("runs independent branches concurrently (each waits until both have started)", async () => {
    const bothStarted = latch();
    let count = 0;
    const { result } = await run(
      workflow([trigger(), action("a", "Hook"), action("b", "Hook")], edges("t->a", "t->b")),
      async () => {
        count += 1;
        if (count === 2) bothStarted.open();
        await bothStarted.opened; // sequential execution would deadlock here and hit the step timeout
        return { count };
      },
      { stepTimeoutMs: 10_000 },
    );
    expect(result.status).toBe("success");
    expect(count).toBe(2);
  });

  it("a failed node stops its descendants while other branches go on", async () => {
    const { result, ends } = await run(
      workflow(
        [
          trigger(),
          action("bad", "Fail", { message: "boom" }, { label: "Breaks" }),
          action("after", "Echo"),
          action("deeper", "Echo"),
          action("ok", "Echo"),
          action("ok2", "Echo"),
        ],
        edges("t->bad", "bad->after", "after->deeper", "t->ok", "ok->ok2"),
      ),
    );
    expect(result.status).toBe("error");
    expect(result.error).toBe('node "bad" (Breaks): boom');
    expect(ends.get("bad")).toMatchObject({ status: "error", error: "boom", started: true });
    expect(ends.get("after")).toMatchObject({
      status: "skipped",
      started: false,
      error: 'upstream node "bad" (Breaks) did not succeed',
    });
    expect(ends.get("deeper")).toMatchObject({ status: "skipped" });
    expect(ends.get("ok2")).toMatchObject({ status: "success" });
    expect(result.output).toEqual({ ok2: {} });
  });

  it("a false Condition skips its whole subtree, even a join with another live parent", async () => {
    const { result, ends, starts } = await run(
      workflow(
        [
          trigger(),
          action("c", "Condition", { condition: "{{@t:Start.n}} > 10" }, { label: "Big?" }),
          action("yes", "Echo"),
          action("other", "Echo"),
          action("join", "Echo"),
        ],
        edges("t->c", "c->yes", "t->other", "yes->join", "other->join"),
      ),
      undefined,
      { input: { n: 3 } },
    );
    expect(result.status).toBe("success");
    expect(ends.get("c")).toMatchObject({ status: "success", output: { result: false } });
    expect(starts.get("c")?.input).toMatchObject({ condition: "{{@t:Start.n}} > 10" });
    expect(ends.get("yes")).toMatchObject({
      status: "skipped",
      error: 'condition of node "c" (Big?) was false',
    });
    expect(ends.get("join")).toMatchObject({ status: "skipped" });
    expect(ends.get("other")).toMatchObject({ status: "success" });
  });

  it("a true Condition runs its subtree; a boolean condition is taken as is", async () => {
    const { ends } = await run(
      workflow(
        [
          trigger(),
          action("c", "Condition", { condition: "{{@t:Start.n}} > 10" }),
          action("yes", "Echo"),
          action("never", "Condition", { condition: false }),
          action("no", "Echo"),
        ],
        edges("t->c", "c->yes", "t->never", "never->no"),
      ),
      undefined,
      { input: { n: 30 } },
    );
    expect(ends.get("yes")).toMatchObject({ status: "success" });
    expect(ends.get("never")).toMatchObject({ status: "success", output: { result: false } });
    expect(ends.get("no")).toMatchObject({ status: "skipped" });
  });

  it("a disabled node passes through: it does not run, its children do, and its output is empty", async () => {
    const { result, ends, starts } = await run(
      workflow(
        [
          trigger(),
          action("off", "Fail", {}, { enabled: false, label: "Off" }),
          action("next", "Echo", {
            typed: "{{@off:Off.n}}",
            text: "n=[{{@off:Off.n}}]",
            whole: "{{@off:Off}}",
          }),
          action("after", "Echo", { n: "{{@t:Start.n}}" }),
        ],
        edges("t->off", "off->next", "next->after"),
      ),
      undefined,
      { input: { n: 7 } },
    );
    expect(result.status).toBe("success");
    expect(ends.get("off")).toMatchObject({
      status: "skipped",
      error: "disabled: passed through",
      started: false,
    });
    expect(starts.has("off")).toBe(false);
    expect(ends.get("next")).toMatchObject({ status: "success", output: { text: "n=[]", whole: null } });
    expect(ends.get("next")?.output).toHaveProperty("typed", undefined);
    expect(ends.get("after")).toMatchObject({ status: "success", output: { n: 7 } });
  });

  it("templates: an exact reference keeps its type, one inside a string becomes text", async () => {
    const { ends } = await run(
      workflow(
        [
          trigger(),
          action("a", "Echo", { obj: { k: [1, 2] }, n: 5 }),
          action("b", "Echo", {
            whole: "{{@a:A}}",
            n: "{{@a:A.n}}",
            list: "{{@a:A.obj.k}}",
            text: "n={{@a:A.n}}; obj={{@a:A.obj}}",
            nested: { deep: ["{{@t:Start.who}}"] },
          }),
        ],
        edges("t->a", "a->b"),
      ),
      undefined,
      { input: { who: "Ada" } },
    );
    expect(ends.get("b")?.output).toEqual({
      whole: { obj: { k: [1, 2] }, n: 5 },
      n: 5,
      list: [1, 2],
      text: 'n=5; obj={"k":[1,2]}',
      nested: { deep: ["Ada"] },
    });
  });

  it("a step timeout fails that step (even when the action ignores its signal); others go on", async () => {
    const { result, ends } = await run(
      workflow([trigger(), action("slow", "Hook"), action("fast", "Echo")], edges("t->slow", "t->fast")),
      () => new Promise(() => {}),
      { stepTimeoutMs: 50 },
    );
    expect(result.status).toBe("error");
    expect(ends.get("slow")).toMatchObject({ status: "error", error: "step timed out after 50ms" });
    expect(ends.get("fast")).toMatchObject({ status: "success" });
  });

  it("the run timeout aborts steps in flight (their signal fires) and starts nothing new", async () => {
    let sawAbort = false;
    const { result, ends } = await run(
      workflow([trigger(), action("slow", "Hook"), action("never", "Echo")], edges("t->slow", "slow->never")),
      (_, context) =>
        new Promise((_, reject) =>
          context.signal.addEventListener("abort", () => {
            sawAbort = true;
            reject(new Error("aborted"));
          }),
        ),
      { runTimeoutMs: 100, stepTimeoutMs: 0 },
    );
    expect(result).toMatchObject({ status: "error", error: "run timed out after 100ms" });
    expect(ends.get("slow")).toMatchObject({ status: "cancelled", error: "run timed out after 100ms" });
    expect(ends.has("never")).toBe(false);
    expect(sawAbort).toBe(true);
  });

  it("an external signal cancels the run with its reason", async () => {
    const controller = new AbortController();
    const { result, ends } = await run(
      workflow([trigger(), action("slow", "Hook")], edges("t->slow")),
      (_, context) =>
        new Promise((_, reject) => context.signal.addEventListener("abort", () => reject(new Error("x")))),
      {
        signal: controller.signal,
        onStepStart: (event) => {
          if (event.nodeId === "slow") setImmediate(() => controller.abort("SIGTERM"));
        },
      },
    );
    expect(result).toMatchObject({ status: "cancelled", error: "cancelled: SIGTERM" });
    expect(ends.get("slow")).toMatchObject({ status: "cancelled", error: "cancelled: SIGTERM" });
  });

  it("rejects when recording a step fails, after stopping the run", async () => {
    const registry = testRegistry();
    const definition = validateWorkflow(workflow([trigger(), action("e", "Echo")], edges("t->e")), {
      registry,
    });
    await expect(
      runWorkflow(definition, {
        registry,
        onStepStart: (event) => {
          if (event.nodeId === "e") throw new Error("database is gone");
        },
      }),
    ).rejects.toThrow("database is gone");
  });
});

describe("runWorkflow with many parallel branches", () => {
  it("runs 200 concurrent steps without a MaxListeners warning", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const ids = Array.from({ length: 200 }, (_, index) => `p${index}`);
      const allStarted = latch();
      let started = 0;
      const { result } = await run(
        workflow([trigger(), ...ids.map((id) => action(id, "Hook"))], edges(...ids.map((id) => `t->${id}`))),
        async () => {
          started += 1;
          if (started === ids.length) allStarted.open();
          await allStarted.opened;
          return {};
        },
      );
      expect(result.status).toBe("success");
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });
});
