import * as z from "zod";
import { ID_PATTERN, TRIGGER_TYPES } from "./names.js";

/**
 * The queue message body. Compatible with the original dispatcher's
 * `{workflowId, scheduleId, triggerTime, triggerType}`; `executionId` and `input` are our extensions.
 * A message without `executionId` (an older dispatcher) is accepted: the consumer creates the execution.
 */
export const workflowMessageSchema = z.object({
  executionId: z.string().regex(ID_PATTERN, "must be a 21-character [0-9a-z] id").optional(),
  workflowId: z.string().min(1),
  scheduleId: z.string().min(1).nullable().optional(),
  triggerType: z.enum(TRIGGER_TYPES),
  triggerTime: z.iso.datetime({ offset: true }),
  input: z.record(z.string(), z.unknown()).optional(),
});
export type WorkflowMessage = z.infer<typeof workflowMessageSchema>;

/** SQS message attribute names. */
export const MESSAGE_ATTRIBUTES = { triggerType: "TriggerType", workflowId: "WorkflowId" } as const;

/** Parses a raw body; throws an Error whose message names the bad field. */
export function parseWorkflowMessage(body: string): WorkflowMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("message body is not JSON");
  }
  const result = workflowMessageSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid message: ${issue?.path.join(".") || "body"}: ${issue?.message}`);
  }
  return result.data;
}
