import { describe, expect, it } from "vitest";
import { humanLine, humanLogLine, logLineText } from "../../services/core/human-log.js";

const at = new Date(2026, 11, 7, 9, 5, 3);
const record = JSON.stringify({
  level: 40,
  time: at.getTime(),
  pid: 1,
  hostname: "h",
  service: "runner",
  err: { type: "Error", message: "terminating connection due to administrator command" },
  executionId: "abc",
  msg: "recording failed\n",
});

describe("human lines", () => {
  it("one layout: HH:MM:SS, a word padded to 9, the text", () => {
    expect(humanLine("start", "it runs", at)).toBe("09:05:03  start     it runs");
  });

  it("a pino record becomes one such line: its level, service, message and fields (errors by message)", () => {
    expect(humanLogLine(record)).toBe(
      "09:05:03  warn      runner: recording failed (err=terminating connection due to administrator command, executionId=abc)",
    );
    expect(humanLogLine("not JSON at all")).toBe("not JSON at all");
    expect(humanLogLine('{"no":"level"}')).toBe('{"no":"level"}');
  });

  it("a runner's last line is quoted by what it says, without time and level", () => {
    expect(logLineText(record)).toBe(
      "runner: recording failed (err=terminating connection due to administrator command, executionId=abc)",
    );
    expect(logLineText("Error: boom")).toBe("Error: boom");
  });
});
