import { type ParseError, parse as parseTolerant } from "jsonc-parser";

/**
 * JSON.parse, with errors people can act on: where the text goes wrong as line and column (Node's own
 * messages give a character offset, or nothing at all for "Unexpected token"), and what was expected.
 * JSON.parse does the parsing; jsonc-parser is only asked where the first problem is when it fails.
 */

/** Thrown by parseJson; the message is one line: `line L, column C: what is wrong`. */
export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
  constructor(
    message: string,
    /** 1-based. */
    readonly line: number,
    /** 1-based, in characters. */
    readonly column: number,
  ) {
    super(message);
  }
}

// ParseErrorCode values (a const enum in jsonc-parser's types, so named here by number).
const PROBLEMS: Record<number, string> = {
  1: "invalid character",
  2: "invalid number",
  3: "a property name is expected",
  4: "a value is expected",
  5: "':' is expected",
  6: "',' is expected",
  7: "'}' is expected",
  8: "']' is expected",
  9: "the text ends too soon",
  10: "comments are not allowed in JSON",
  11: "the text ends inside a comment",
  12: "the text ends inside a string",
  13: "the text ends inside a number",
  14: "invalid unicode escape",
  15: "invalid escape character",
  16: "invalid character in a string",
};

/** 1-based line and column of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - (before.lastIndexOf("\n") + 1) + 1 };
}

/** Parses JSON text; throws JsonSyntaxError naming the line and column of the first problem. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw locate(text, error);
  }
}

function locate(text: string, thrown: unknown): JsonSyntaxError {
  if (text.trim() === "") return new JsonSyntaxError("line 1, column 1: the text is empty", 1, 1);
  const errors: ParseError[] = [];
  parseTolerant(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  const reason = (thrown instanceof Error ? thrown.message : String(thrown)).split("\n")[0] ?? "";
  if (!first) {
    // jsonc-parser accepted what JSON.parse refused: keep JSON.parse's reason.
    return new JsonSyntaxError(reason, 1, 1);
  }
  const { line, column } = lineAndColumn(text, first.offset);
  const problem = PROBLEMS[first.error] ?? reason;
  return new JsonSyntaxError(`line ${line}, column ${column}: ${problem}`, line, column);
}
