import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JsonSyntaxError, lineAndColumn, parseJson } from "../../services/core/json.js";
import { spawnCli } from "../helpers/cli-process.js";
import { createTempDir } from "../helpers/temp.js";

const dir = await createTempDir("kh-json");
// No database is reached: the JSON is refused first.
const env = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", SQS_QUEUE_URL: undefined };

describe("bad JSON is reported by line and column", () => {
  it("khctl workflow create --file: the line and column of the mistake, and what was expected", async () => {
    const file = path.join(dir, "bad.json");
    await writeFile(file, '{\n  "name": "x",\n  "nodes": [\n    { "id": "t", }\n  ]\n}\n');
    const result = await spawnCli(["workflow", "create", "--file", file], env).result;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `khctl: ${file} is not valid JSON: line 4, column 18: a property name is expected\n`,
    );
  });

  it("an empty file says so", async () => {
    const file = path.join(dir, "empty.json");
    await writeFile(file, "\n");
    const result = await spawnCli(["workflow", "create", "--file", file], env).result;
    expect(result.stderr).toBe(`khctl: ${file} is not valid JSON: line 1, column 1: the text is empty\n`);
  });

  it("khctl trigger --input: column of the mistake (a usage error, exit 2)", async () => {
    const result = await spawnCli(["trigger", "x", "--input", '{"who": }'], env).result;
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("khctl: --input is not valid JSON: line 1, column 9: a value is expected\n");
  });

  it("parseJson parses what JSON.parse parses, and locates what it refuses", () => {
    expect(parseJson('{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    expect(() => parseJson("[1,\n 2,\n]")).toThrow(
      new JsonSyntaxError("line 3, column 1: a value is expected", 3, 1),
    );
    expect(() => parseJson('{"a": 1} x')).toThrow("line 1, column 10: invalid character");
    expect(lineAndColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
  });
});
