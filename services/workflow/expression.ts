import jsep from "jsep";
import {
  findReferences,
  resolveReference,
  stringifyValue,
  type TemplateReference,
  type TemplateScope,
} from "./templates.js";

/**
 * The Condition expression language: parsed by jsep, evaluated by the small allow-listed walker below.
 * Never eval/Function. Allowed: literals (numbers, strings, true, false, null, undefined), identifiers
 * bound by the caller, member access on own properties (`a.b`, `a["b"]`, `a[0]`, `a?.b`; never
 * `__proto__`, `prototype` or `constructor`), array literals, unary `! - +`, arithmetic `+ - * / % **`,
 * comparisons `=== !== == != < <= > >=`, `&& ||` (short-circuit) and `?:`. Anything else, function calls
 * included, is an ExpressionError that names the construct.
 */

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

/** The longest condition accepted, in characters: checked when a workflow is saved and when it runs. */
export const MAX_CONDITION_LENGTH = 10_000;

/** Errors quote at most this much of an expression. */
const EXCERPT_LENGTH = 120;

/** `text` as errors quote it: whole when short, else its start and its length. */
export function excerpt(text: string): string {
  return text.length <= EXCERPT_LENGTH
    ? `"${text}"`
    : `"${text.slice(0, EXCERPT_LENGTH - 1)}…" (${text.length} characters)`;
}

function checkLength(condition: string): void {
  if (condition.length > MAX_CONDITION_LENGTH) {
    throw new ExpressionError(
      `the condition is ${condition.length} characters long; at most ${MAX_CONDITION_LENGTH} are allowed`,
    );
  }
}

type Node = jsep.Expression;

const BLOCKED_PROPERTIES = new Set(["__proto__", "prototype", "constructor"]);
const CONSTANTS: Record<string, unknown> = { undefined: undefined };

const BINARY: Record<string, (left: unknown, right: unknown) => unknown> = {
  // biome-ignore lint/suspicious/noExplicitAny: arithmetic on arbitrary values follows JavaScript's own rules
  "+": (l, r) => (l as any) + (r as any),
  "-": (l, r) => Number(l) - Number(r),
  "*": (l, r) => Number(l) * Number(r),
  "/": (l, r) => Number(l) / Number(r),
  "%": (l, r) => Number(l) % Number(r),
  "**": (l, r) => Number(l) ** Number(r),
  "===": (l, r) => l === r,
  "!==": (l, r) => l !== r,
  // biome-ignore lint/suspicious/noDoubleEquals: loose equality is part of the documented language
  "==": (l, r) => l == r,
  // biome-ignore lint/suspicious/noDoubleEquals: see above
  "!=": (l, r) => l != r,
  "<": (l, r) => (l as number) < (r as number),
  "<=": (l, r) => (l as number) <= (r as number),
  ">": (l, r) => (l as number) > (r as number),
  ">=": (l, r) => (l as number) >= (r as number),
};
const UNARY: Record<string, (value: unknown) => unknown> = {
  "!": (value) => !value,
  "-": (value) => -Number(value),
  "+": (value) => Number(value),
};

if (!jsep.binary_ops["**"]) jsep.addBinaryOp("**", 11, true);

/** Parses and checks an expression; throws ExpressionError naming the first construct not allowed. */
export function compileExpression(source: string): Node {
  let ast: Node;
  try {
    ast = jsep(source);
    check(ast, source);
  } catch (error) {
    if (error instanceof ExpressionError) throw error;
    // jsep and the checks recurse: an expression nested thousands deep overflows the stack.
    if (error instanceof RangeError) throw new ExpressionError(`${excerpt(source)} is nested too deeply`);
    throw new ExpressionError(`cannot parse ${excerpt(source)}: ${(error as Error).message}`);
  }
  return ast;
}

function check(node: Node, source: string): void {
  switch (node.type) {
    case "Literal":
    case "Identifier":
      return;
    case "ArrayExpression":
      for (const element of (node as jsep.ArrayExpression).elements) if (element) check(element, source);
      return;
    case "MemberExpression": {
      const member = node as jsep.MemberExpression;
      check(member.object, source);
      if (member.computed) check(member.property, source);
      else blockProperty((member.property as jsep.Identifier).name);
      return;
    }
    case "UnaryExpression": {
      const unary = node as jsep.UnaryExpression;
      if (!UNARY[unary.operator]) throw new ExpressionError(`operator "${unary.operator}" is not allowed`);
      check(unary.argument, source);
      return;
    }
    case "BinaryExpression": {
      const binary = node as jsep.BinaryExpression;
      if (!BINARY[binary.operator] && binary.operator !== "&&" && binary.operator !== "||")
        throw new ExpressionError(`operator "${binary.operator}" is not allowed`);
      check(binary.left, source);
      check(binary.right, source);
      return;
    }
    case "ConditionalExpression": {
      const conditional = node as jsep.ConditionalExpression;
      check(conditional.test, source);
      check(conditional.consequent, source);
      check(conditional.alternate, source);
      return;
    }
    case "CallExpression":
      throw new ExpressionError(`function calls are not allowed in ${excerpt(source)}`);
    case "ThisExpression":
      throw new ExpressionError(`"this" is not allowed in ${excerpt(source)}`);
    case "Compound":
    case "SequenceExpression":
      throw new ExpressionError(`${excerpt(source)} is not a single expression`);
    default:
      throw new ExpressionError(`${node.type} is not allowed in ${excerpt(source)}`);
  }
}

function blockProperty(name: string): void {
  if (BLOCKED_PROPERTIES.has(name)) throw new ExpressionError(`access to "${name}" is not allowed`);
}

/** Evaluates a compiled expression with `bindings` as the only identifiers in scope. */
export function evaluateAst(node: Node, bindings: Readonly<Record<string, unknown>>): unknown {
  const walk = (current: Node): unknown => {
    switch (current.type) {
      case "Literal":
        return (current as jsep.Literal).value;
      case "Identifier": {
        const name = (current as jsep.Identifier).name;
        if (Object.hasOwn(bindings, name)) return bindings[name];
        if (Object.hasOwn(CONSTANTS, name)) return CONSTANTS[name];
        throw new ExpressionError(
          `unknown identifier "${name}" (use a template reference to read a node's output)`,
        );
      }
      case "ArrayExpression":
        return (current as jsep.ArrayExpression).elements.map((element) =>
          element ? walk(element) : undefined,
        );
      case "MemberExpression": {
        const member = current as jsep.MemberExpression;
        const object = walk(member.object);
        const key = member.computed ? walk(member.property) : (member.property as jsep.Identifier).name;
        if (object === null || object === undefined) {
          if (member.optional) return undefined;
          throw new ExpressionError(`cannot read "${String(key)}" of ${object}`);
        }
        const name = String(key);
        blockProperty(name);
        if (typeof object === "string") {
          if (name === "length") return object.length;
          return /^\d+$/.test(name) ? object[Number(name)] : undefined;
        }
        if (typeof object !== "object") return undefined;
        return Object.hasOwn(object, name) ? (object as Record<string, unknown>)[name] : undefined;
      }
      case "UnaryExpression": {
        const unary = current as jsep.UnaryExpression;
        return (UNARY[unary.operator] as (value: unknown) => unknown)(walk(unary.argument));
      }
      case "BinaryExpression": {
        const binary = current as jsep.BinaryExpression;
        if (binary.operator === "&&") return walk(binary.left) && walk(binary.right);
        if (binary.operator === "||") return walk(binary.left) || walk(binary.right);
        const operate = BINARY[binary.operator] as (left: unknown, right: unknown) => unknown;
        return operate(walk(binary.left), walk(binary.right));
      }
      case "ConditionalExpression": {
        const conditional = current as jsep.ConditionalExpression;
        return walk(conditional.test) ? walk(conditional.consequent) : walk(conditional.alternate);
      }
      default:
        // compileExpression rejected everything else already; keep the walker closed anyway.
        throw new ExpressionError(`${current.type} is not allowed`);
    }
  };
  return walk(node);
}

/** Parses, checks and evaluates `source` with the given bindings. */
export function evaluateExpression(
  source: string,
  bindings: Readonly<Record<string, unknown>> = {},
): unknown {
  return evaluateAst(compileExpression(source), bindings);
}

/** A condition with its template references replaced by identifiers. */
export interface BoundCondition {
  /** The expression text jsep parses. */
  readonly source: string;
  /** Each identifier introduced, with how to compute its value. */
  readonly variables: ReadonlyMap<string, BoundVariable>;
}
type BoundVariable =
  | { readonly kind: "value"; readonly reference: TemplateReference }
  /** A string literal that contained templates: its text with the references stringified. */
  | { readonly kind: "text"; readonly text: string };

const QUOTES = new Set(['"', "'", "`"]);

/**
 * Replaces template references with bound identifiers, so that a reference is a value and never code:
 * `{{@h:HTTP.status}} === 200` becomes `__ref0 === 200` with __ref0 bound to the status. A string
 * literal that contains references (`"{{@u:User.name}}" === "bob"`) becomes one identifier bound to the
 * literal's text with the references filled in.
 */
export function bindCondition(condition: string): BoundCondition {
  checkLength(condition);
  const variables = new Map<string, BoundVariable>();
  const name = () => `__ref${variables.size}`;
  // One scan for the references, one pass over the text: linear in its length.
  const references = findReferences(condition);
  let next = 0;
  const parts: string[] = [];
  let index = 0;
  while (index < condition.length) {
    const char = condition[index] as string;
    if (QUOTES.has(char)) {
      const end = closingQuote(condition, index);
      const literal = condition.slice(index, end + 1);
      if (findReferences(literal).length > 0) {
        const variable = name();
        variables.set(variable, { kind: "text", text: unescapeLiteral(literal.slice(1, -1)) });
        parts.push(` ${variable} `);
      } else {
        parts.push(char === "`" ? `"${literal.slice(1, -1).replace(/"/g, '\\"')}"` : literal);
      }
      index = end + 1;
      continue;
    }
    while (next < references.length && (references[next] as TemplateReference).index < index) next += 1;
    const reference = references[next];
    if (reference && reference.index === index) {
      const variable = name();
      variables.set(variable, { kind: "value", reference });
      parts.push(` ${variable} `);
      index += reference.raw.length;
      next += 1;
      continue;
    }
    parts.push(char);
    index += 1;
  }
  return { source: parts.join("").trim(), variables };
}

function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let index = start + 1; index < text.length; index += 1) {
    if (text[index] === "\\") index += 1;
    else if (text[index] === quote) return index;
  }
  throw new ExpressionError(`unterminated string starting at character ${start} of ${excerpt(text)}`);
}

function unescapeLiteral(text: string): string {
  return text.replace(/\\(.)/g, "$1");
}

/** Checks a condition's syntax without evaluating it (workflow validation). */
export function checkCondition(condition: string): void {
  compileExpression(bindCondition(condition).source);
}

/** Evaluates a Condition: references resolve against the scope's outputs. */
export function evaluateCondition(condition: string, scope: TemplateScope): unknown {
  const bound = bindCondition(condition);
  const ast = compileExpression(bound.source);
  const bindings: Record<string, unknown> = {};
  for (const [variable, binding] of bound.variables) {
    if (binding.kind === "value") {
      bindings[variable] = resolveReference(binding.reference, scope);
    } else {
      let text = "";
      let last = 0;
      for (const reference of findReferences(binding.text)) {
        text +=
          binding.text.slice(last, reference.index) + stringifyValue(resolveReference(reference, scope));
        last = reference.index + reference.raw.length;
      }
      bindings[variable] = text + binding.text.slice(last);
    }
  }
  return evaluateAst(ast, bindings);
}
