/**
 * Every khctl command as the top-level help shows it: its term (name, options, arguments) and one line.
 * `khctl --help` prints this list without loading a single command module (each one pulls in the
 * Postgres, SQS or Kubernetes clients), so it answers at once; each command's register() takes its
 * description from here, and a test checks that the terms match the commands. Dependency-free.
 */
export const COMMAND_LIST = {
  console: {
    term: "console [options]",
    summary:
      "the web console on http://127.0.0.1:54332: workflows, live executions, step logs, trigger, the DLQ, health",
  },
  dev: {
    term: "dev [options]",
    summary:
      "the embedded default (npm start): Postgres, an SQS emulator, the dispatcher and the executor in one process tree, with example workflows",
  },
  dispatch: {
    term: "dispatch [options]",
    summary:
      "find due cron slots, create one execution per slot and enqueue it; one pass (the CronJob), or --loop",
  },
  dlq: { term: "dlq", summary: "the dead-letter queue: messages that could not be handled" },
  doctor: {
    term: "doctor [options]",
    summary: "check that this machine can run a stack: Docker, minikube, free ports",
  },
  execution: {
    term: "execution [options] <executionId>",
    summary:
      "show an execution: status, timings, error, and the step log; `execution list` finds them (filters, --watch)",
  },
  executor: {
    term: "executor [options]",
    summary:
      "consume the workflow queue and run each execution with `khctl run` in a child process (the local stack's runner)",
  },
  logs: {
    term: "logs [options] <executionId>",
    summary:
      "show an execution's log: the runner pod's output while its Job exists, else the step log from Postgres",
  },
  migrate: {
    term: "migrate [options]",
    summary:
      "apply pending database migrations to DATABASE_URL (idempotent; safe from two processes at once)",
  },
  queue: { term: "queue", summary: "the workflow queue and its dead-letter queue" },
  run: {
    term: "run [options] [executionId]",
    summary:
      "run one execution and record every step (the workflow-runner); or run a workflow now with --workflow",
  },
  spawner: {
    term: "spawner [options]",
    summary:
      "turn each queue message into one Kubernetes Job running `khctl run <executionId>`, and reconcile Jobs with executions",
  },
  status: {
    term: "status [options]",
    summary:
      "one screen: khctl dev or the stack's containers, minikube and Kubernetes objects, queue depths, recent executions",
  },
  trigger: {
    term: "trigger [options] <workflow>",
    summary: "create a manual execution of a workflow and enqueue it; print the execution id",
  },
  workflow: { term: "workflow", summary: "create, show, change, enable, disable, delete and list workflows" },
} as const satisfies Record<string, { term: string; summary: string }>;

export type CommandName = keyof typeof COMMAND_LIST;
