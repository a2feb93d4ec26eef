import { describe, expect, it } from "vitest";
import { parseWorkflowMessage } from "../../services/contracts/message.js";

const valid = {
  executionId: "0123456789abcdefghijk",
  workflowId: "wf1",
  scheduleId: "s1",
  triggerType: "schedule",
  triggerTime: "2026-11-26T10:00:00.000Z",
};

describe("queue message schema", () => {
  it("accepts the full message and the original dispatcher's message without executionId", () => {
    expect(parseWorkflowMessage(JSON.stringify(valid))).toEqual(valid);
    const { executionId: _, ...original } = valid;
    expect(parseWorkflowMessage(JSON.stringify(original)).executionId).toBeUndefined();
  });

  it("rejects bad bodies with a message naming the field", () => {
    expect(() => parseWorkflowMessage("{not json")).toThrow("message body is not JSON");
    expect(() => parseWorkflowMessage(JSON.stringify({ ...valid, triggerType: "cron" }))).toThrow(
      /^invalid message: triggerType/,
    );
    expect(() => parseWorkflowMessage(JSON.stringify({ ...valid, executionId: "UPPER_case" }))).toThrow(
      /^invalid message: executionId/,
    );
    expect(() => parseWorkflowMessage(JSON.stringify({ ...valid, triggerTime: "yesterday" }))).toThrow(
      /^invalid message: triggerTime/,
    );
  });
});
