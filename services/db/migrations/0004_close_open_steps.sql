-- Up Migration
-- One rule for closing a run: when an execution reaches a terminal status, whoever records it (the runner,
-- the executor on a dead child, the spawner's reconciler, the stale-run policy, khctl dev's recovery, or the
-- KeeperHub app), its step rows still `running` are closed in the same transaction: `error`, with the
-- execution's reason and its end time. A runner killed mid-step never records that step's end; without this
-- the step log would show a running node inside a finished run forever. (The step table has no `pending`
-- status: `running` is the only open one.)

CREATE FUNCTION close_open_steps(execution text, reason text, ended_at timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  closed integer;
BEGIN
  UPDATE workflow_execution_logs
  SET status = 'error',
      error = reason,
      completed_at = GREATEST(started_at, ended_at),
      duration_ms = GREATEST(0, round(extract(epoch FROM ended_at - started_at) * 1000))::integer
  WHERE execution_id = execution AND status = 'running';
  GET DIAGNOSTICS closed = ROW_COUNT;
  RETURN closed;
END;
$$;

-- The reason a step is closed with: the execution's error, else what happened to the run.
CREATE FUNCTION run_end_reason(status text, error text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(error, format('the run ended (%s) before this step finished', status))
$$;

CREATE FUNCTION workflow_executions_close_steps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM close_open_steps(NEW.id, run_end_reason(NEW.status, NEW.error), coalesce(NEW.completed_at, now()));
  RETURN NULL;
END;
$$;

CREATE TRIGGER workflow_executions_close_steps AFTER UPDATE OF status ON workflow_executions
  FOR EACH ROW
  WHEN (OLD.status IN ('pending', 'running') AND NEW.status IN ('success', 'error', 'cancelled'))
  EXECUTE FUNCTION workflow_executions_close_steps();

-- Rows that runs closed before this rule existed left open.
SELECT close_open_steps(e.id, run_end_reason(e.status, e.error), coalesce(e.completed_at, now()))
FROM workflow_executions e
WHERE e.status IN ('success', 'error', 'cancelled')
  AND EXISTS (SELECT 1 FROM workflow_execution_logs l WHERE l.execution_id = e.id AND l.status = 'running');

-- Down Migration
DROP TRIGGER workflow_executions_close_steps ON workflow_executions;
DROP FUNCTION workflow_executions_close_steps();
DROP FUNCTION run_end_reason(text, text);
DROP FUNCTION close_open_steps(text, text, timestamptz);
