import { describe, expect, it } from "vitest";
import {
  bindCondition,
  checkCondition,
  ExpressionError,
  evaluateCondition,
  evaluateExpression,
  MAX_CONDITION_LENGTH,
} from "../../services/workflow/expression.js";
import type { TemplateScope } from "../../services/workflow/templates.js";

const scope = (outputs: Record<string, unknown>, labels: Record<string, string> = {}): TemplateScope => ({
  outputs: new Map(Object.entries(outputs)),
  labelOf: (id) => labels[id] ?? (id in outputs ? id.toUpperCase() : undefined),
});

describe("evaluateExpression", () => {
  it.each([
    ["1 + 2 * 3", {}, 7],
    ["(1 + 2) * 3", {}, 9],
    ["2 ** 10 % 1000", {}, 24],
    ["-x + +'4'", { x: 1 }, 3],
    ["!ok", { ok: false }, true],
    ["a === 1 && b !== 2", { a: 1, b: 3 }, true],
    ["a == '1'", { a: 1 }, true],
    ["a != null", { a: undefined }, false],
    ["a < 2 || a >= 10", { a: 12 }, true],
    ["a <= 2", { a: 2 }, true],
    ["a > 2 ? 'big' : 'small'", { a: 3 }, "big"],
    ["[1, 2, x][2]", { x: "three" }, "three"],
    ["user.address.city", { user: { address: { city: "Oslo" } } }, "Oslo"],
    ["user['name'].length", { user: { name: "Ada" } }, 3],
    ["items[1]", { items: ["a", "b"] }, "b"],
    ["missing?.deep", { missing: null }, undefined],
    ["true && null", {}, null],
    ["undefined === x", { x: undefined }, true],
  ])("%s", (source, bindings, expected) => {
    expect(evaluateExpression(source, bindings)).toEqual(expected);
  });

  it("short-circuits && and || (the right side is not evaluated)", () => {
    expect(evaluateExpression("false && nope.x", {})).toBe(false);
    expect(evaluateExpression("true || nope.x", {})).toBe(true);
    expect(() => evaluateExpression("true && nope", {})).toThrow(/unknown identifier "nope"/);
  });

  it.each([
    ["f(1)", /function calls are not allowed/],
    ["a.toString()", /function calls are not allowed/],
    ["a.constructor", /access to "constructor" is not allowed/],
    ["a.__proto__", /access to "__proto__" is not allowed/],
    ["a['__proto__']", /access to "__proto__" is not allowed/],
    ["a['constr' + 'uctor']", /access to "constructor" is not allowed/],
    ["a.prototype", /access to "prototype" is not allowed/],
    ["this", /"this" is not allowed/],
    ["a, b", /is not a single expression/],
    ["a | 1", /operator "\|" is not allowed/],
    ["~a", /operator "~" is not allowed/],
    ["1 +", /cannot parse "1 \+"/],
    ["nope", /unknown identifier "nope"/],
    ["x.y", /cannot read "y" of undefined/],
  ])("rejects %s", (source, message) => {
    expect(() => evaluateExpression(source, { a: {}, b: 1, x: undefined })).toThrow(ExpressionError);
    expect(() => evaluateExpression(source, { a: {}, b: 1, x: undefined })).toThrow(message);
  });

  it("reads only own properties, never inherited ones", () => {
    expect(evaluateExpression("o.toString", { o: {} })).toBeUndefined();
    expect(evaluateExpression("o.hasOwnProperty", { o: {} })).toBeUndefined();
    expect(evaluateExpression("s.length", { s: "abc" })).toBe(3);
  });
});

describe("evaluateCondition (template references are values, never code)", () => {
  it("binds a reference with its type", () => {
    const outputs = scope({ h: { status: 200, data: { ok: true, items: [1, 2, 3] } } }, { h: "Check" });
    expect(evaluateCondition("{{@h:Check.status}} === 200", outputs)).toBe(true);
    expect(evaluateCondition("{{@h:Check.status}} >= 200 && {{@h:Check.status}} < 300", outputs)).toBe(true);
    expect(evaluateCondition("{{@h:Check.data.items}}.length > 2", outputs)).toBe(true);
    expect(evaluateCondition("!{{@h:Check.data.ok}}", outputs)).toBe(false);
  });

  it("treats a value that looks like code as a value", () => {
    const outputs = scope({ u: { name: "1 === 1 || process.exit()" } });
    expect(evaluateCondition("{{@u:U.name}} === 'bob'", outputs)).toBe(false);
    const bound = bindCondition("{{@u:U.name}} === 'bob'");
    expect(bound.source).toBe("__ref0  === 'bob'");
  });

  it("fills references inside a quoted string as text", () => {
    const outputs = scope({ u: { first: "Ada", last: 'L"ove' } });
    expect(evaluateCondition('"{{@u:U.first}}" === "Ada"', outputs)).toBe(true);
    expect(evaluateCondition("'{{@u:U.first}} {{@u:U.last}}' === 'Ada L\"ove'", outputs)).toBe(true);
  });

  it("is a clear error when a referenced node has not run", () => {
    expect(() => evaluateCondition("{{@h:Check.status}} === 200", scope({}, { h: "Check" }))).toThrow(
      'node "h" (Check), which has not run or has no output',
    );
  });
});

describe("bounded conditions", () => {
  it("refuses a condition longer than the limit, at save and at run, quoting none of it", () => {
    const long = `${"{{@a:A.x}} + ".repeat(1_000)}0`;
    expect(long.length).toBeGreaterThan(MAX_CONDITION_LENGTH);
    expect(() => checkCondition(long)).toThrow(
      new ExpressionError(
        `the condition is ${long.length} characters long; at most ${MAX_CONDITION_LENGTH} are allowed`,
      ),
    );
    expect(() => evaluateCondition(long, scope({ a: { x: 1 } }))).toThrow(/at most 10000 are allowed/);
  });

  it("evaluates a condition at the limit made of references, with every reference bound once", () => {
    const count = Math.floor((MAX_CONDITION_LENGTH - 1) / "{{@a:A.x}}+".length);
    const condition = `${"{{@a:A.x}}+".repeat(count)}0`;
    expect(bindCondition(condition).variables.size).toBe(count);
    expect(evaluateCondition(condition, scope({ a: { x: 2 } }))).toBe(2 * count);
  });

  it("quotes at most about 120 characters of a bad expression, with its length", () => {
    const bad = `${"1 + ".repeat(200)}(`;
    let message = "";
    try {
      checkCondition(bad);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^cannot parse "1 \+ 1 \+ .{0,120}…" \(801 characters\): /);
    expect(message.length).toBeLessThan(300);
  });

  it("says a deeply nested expression is nested too deeply, instead of overflowing", () => {
    const nested = `${"(".repeat(4_000)}1${")".repeat(4_000)}`;
    expect(() => checkCondition(nested)).toThrow(/nested too deeply|cannot parse/);
  });
});
