-- Up Migration
-- How many times the execution's message was sent. A pending execution whose message no runner took
-- (lost with an emulator's queue, dead-lettered during a database outage) is sent again by the stale-run
-- policy, a bounded number of times (contracts/names.ts MAX_SENDS), then recorded as error.
ALTER TABLE workflow_executions ADD COLUMN send_count integer NOT NULL DEFAULT 0 CHECK (send_count >= 0);
-- Rows sent before this column existed were sent once.
UPDATE workflow_executions SET send_count = 1 WHERE enqueued_at IS NOT NULL;

-- Down Migration
ALTER TABLE workflow_executions DROP COLUMN send_count;
