-- Up Migration
-- The four KeeperHub tables, with the app's names so that rows written by the KeeperHub app work here.

CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;

CREATE TABLE workflows (
  id              text PRIMARY KEY,
  name            text NOT NULL CHECK (length(name) > 0),
  description     text,
  nodes           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(nodes) = 'array'),
  edges           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(edges) = 'array'),
  enabled         boolean NOT NULL DEFAULT true,
  user_id         text,
  organization_id text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER workflows_updated_at BEFORE UPDATE ON workflows
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE workflow_schedules (
  id              text PRIMARY KEY,
  workflow_id     text NOT NULL UNIQUE REFERENCES workflows (id) ON DELETE CASCADE,
  cron_expression text NOT NULL,
  timezone        text NOT NULL DEFAULT 'UTC',
  enabled         boolean NOT NULL DEFAULT true,
  next_run_at     timestamptz,
  last_run_at     timestamptz,
  last_status     text CHECK (last_status IN ('success', 'error', 'cancelled')),
  last_error      text,
  run_count       integer NOT NULL DEFAULT 0 CHECK (run_count >= 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER workflow_schedules_updated_at BEFORE UPDATE ON workflow_schedules
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
-- The dispatcher's access path: due schedules, cheapest first. Its cost follows due rows, not all rows.
CREATE INDEX workflow_schedules_due_idx ON workflow_schedules (next_run_at) WHERE enabled;

CREATE TABLE workflow_executions (
  id              text PRIMARY KEY,
  workflow_id     text NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  schedule_id     text REFERENCES workflow_schedules (id) ON DELETE SET NULL,
  scheduled_for   timestamptz,
  trigger_type    text NOT NULL CHECK (trigger_type IN ('schedule', 'manual', 'webhook')),
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'running', 'success', 'error', 'cancelled')),
  input           jsonb,
  output          jsonb,
  error           text,
  job_name        text,
  -- Outbox: set once the queue message is sent; a pending row without it is re-sent.
  enqueued_at     timestamptz,
  started_at      timestamptz,
  completed_at    timestamptz,
  duration_ms     integer CHECK (duration_ms >= 0),
  total_steps     integer NOT NULL DEFAULT 0 CHECK (total_steps >= 0),
  completed_steps integer NOT NULL DEFAULT 0 CHECK (completed_steps >= 0),
  current_node_id text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- One execution per schedule slot, whatever crashes or redeliveries happen.
  CONSTRAINT workflow_executions_slot_key UNIQUE (schedule_id, scheduled_for),
  CHECK (trigger_type <> 'schedule' OR scheduled_for IS NOT NULL),
  CHECK (status NOT IN ('success', 'error', 'cancelled') OR completed_at IS NOT NULL)
);
CREATE TRIGGER workflow_executions_updated_at BEFORE UPDATE ON workflow_executions
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE INDEX workflow_executions_workflow_idx ON workflow_executions (workflow_id, created_at DESC);
CREATE INDEX workflow_executions_status_idx ON workflow_executions (status, created_at DESC);
-- Outbox scan: committed but never sent.
CREATE INDEX workflow_executions_unsent_idx ON workflow_executions (created_at)
  WHERE enqueued_at IS NULL AND status = 'pending';

CREATE TABLE workflow_execution_logs (
  id              text PRIMARY KEY,
  execution_id    text NOT NULL REFERENCES workflow_executions (id) ON DELETE CASCADE,
  node_id         text NOT NULL,
  node_name       text,
  node_type       text,
  status          text NOT NULL CHECK (status IN ('running', 'success', 'error', 'skipped', 'cancelled')),
  input           jsonb,
  output          jsonb,
  error           text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz,
  duration_ms     integer CHECK (duration_ms >= 0),
  -- A node runs at most once per execution.
  CONSTRAINT workflow_execution_logs_node_key UNIQUE (execution_id, node_id)
);
CREATE INDEX workflow_execution_logs_execution_idx ON workflow_execution_logs (execution_id, started_at);

-- Down Migration
DROP TABLE workflow_execution_logs;
DROP TABLE workflow_executions;
DROP TABLE workflow_schedules;
DROP TABLE workflows;
DROP FUNCTION set_updated_at();
