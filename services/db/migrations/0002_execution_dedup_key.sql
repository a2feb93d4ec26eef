-- Up Migration
-- A message without executionId (sent by an older dispatcher) makes the consumer create the execution.
-- Scheduled ones are keyed by (schedule_id, scheduled_for); manual ones by the SQS MessageId kept here,
-- so a redelivery of the same message finds the execution instead of creating a second one.
ALTER TABLE workflow_executions ADD COLUMN dedup_key text;
ALTER TABLE workflow_executions ADD CONSTRAINT workflow_executions_dedup_key UNIQUE (dedup_key);

-- Down Migration
ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_dedup_key;
ALTER TABLE workflow_executions DROP COLUMN dedup_key;
