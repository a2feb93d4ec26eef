/**
 * Every numeric setting of the services, defined once: its environment variable, its khctl flag, its
 * default and its valid range, a floor and a ceiling for each (an interval of 0.0001 s or a limit of a year
 * is refused at start, in one line naming the flag or variable and the range). The commands read them
 * (cli/settings.ts: the flag over the variable, through commander's Option.env), the services' env
 * schemas are built from them (core/settings.ts), the stack's config passes some on within the same
 * ranges (infra/config.ts), and a test checks docs/configuration.md's tables against them.
 * Dependency-free, like names.ts.
 */

export interface NumberSetting {
  /** The environment variable; none for a flag that has none. */
  readonly env?: string;
  /** The khctl flag that overrides it, with its value placeholder ("--concurrency <n>"); none for env-only. */
  readonly flag?: string;
  /** Used when neither is given. */
  readonly default: number;
  /** The smallest valid value (0 aside, when `zero` says what 0 means). */
  readonly min: number;
  /** The largest valid value (never above what a timer can wait, for durations: core/settings.ts). */
  readonly max: number;
  /** Only whole numbers. */
  readonly integer?: boolean;
  /** What the number counts: seconds and ms are durations. */
  readonly unit: "seconds" | "ms" | "count" | "port" | "bytes";
  /**
   * What 0 means, when it is allowed and means something else than "no time" (e.g. "none", "off"). With a
   * `min` above 0, 0 is valid besides the range: "0 (off), or from 1 to 3600".
   */
  readonly zero?: string;
  /** One line for --help and docs/configuration.md. */
  readonly summary: string;
}

/** A duration in seconds, from 0 unless `min` says otherwise, up to `max`. */
const seconds = <W extends Pick<NumberSetting, "env" | "flag" | "max"> & Partial<NumberSetting>>(
  summary: string,
  defaultValue: number,
  where: W,
): NumberSetting & W => ({ default: defaultValue, min: 0, unit: "seconds", summary, ...where });

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

/** `khctl dispatch` (and `khctl dev`'s dispatcher). */
export const DISPATCHER_SETTINGS = {
  intervalSeconds: seconds("seconds between passes with --loop", 5, {
    env: "DISPATCH_INTERVAL_SECONDS",
    flag: "--interval <seconds>",
    min: 0.1,
    max: HOUR,
  }),
  catchUpWindowSeconds: seconds("a missed slot older than this is skipped (logged), not fired", 600, {
    env: "DISPATCH_CATCH_UP_WINDOW_SECONDS",
    flag: "--catch-up-window <seconds>",
    max: 7 * DAY,
  }),
  batchSize: {
    env: "DISPATCH_BATCH_SIZE",
    flag: "--batch-size <n>",
    default: 500,
    min: 1,
    max: 10_000,
    integer: true,
    unit: "count",
    summary: "due schedules claimed per transaction",
  },
} as const satisfies Record<string, NumberSetting>;

/** `khctl executor` (and `khctl dev`'s executor). */
export const EXECUTOR_SETTINGS = {
  concurrency: {
    env: "EXECUTOR_CONCURRENCY",
    flag: "--concurrency <n>",
    default: 4,
    min: 1,
    max: 1000,
    integer: true,
    unit: "count",
    summary: "executions (child processes) run at once",
  },
  shutdownTimeoutSeconds: seconds(
    "on SIGTERM, runs in flight get this long to finish, then are cancelled",
    30,
    {
      env: "EXECUTOR_SHUTDOWN_TIMEOUT_SECONDS",
      flag: "--shutdown-timeout <seconds>",
      max: HOUR,
    },
  ),
  warmRunners: {
    env: "EXECUTOR_WARM_RUNNERS",
    flag: "--warm-runners <n>",
    default: 2,
    min: 0,
    max: 64,
    integer: true,
    unit: "count",
    zero: "start each runner when its run begins",
    summary: "runner processes kept started ahead of their executions (each runs one, then exits)",
  },
} as const satisfies Record<string, NumberSetting>;

/**
 * The stale-run policy (db/stale-run-policy.ts), the same for the executor and the spawner: when an
 * unfinished execution without a live runner is recorded as error, and how often that is checked.
 */
export const STALE_RUN_SETTINGS = {
  lostRunGraceSeconds: seconds(
    "a run still `running` this long past the run timeout, with no live runner, is recorded as error (runner lost)",
    60,
    { env: "LOST_RUN_GRACE_SECONDS", flag: "--lost-run-grace <seconds>", max: DAY },
  ),
  pendingLimitSeconds: seconds(
    "a `pending` run whose message was sent this long ago, with no live runner, is sent again (up to 3 sends in all), then recorded as error (never started)",
    600,
    { env: "PENDING_LIMIT_SECONDS", flag: "--pending-limit <seconds>", zero: "never", min: 10, max: DAY },
  ),
  reconcileIntervalSeconds: seconds(
    "seconds between passes that check executions against their runners (one also runs at start)",
    15,
    {
      env: "RECONCILE_INTERVAL_SECONDS",
      flag: "--reconcile-interval <seconds>",
      zero: "no passes",
      min: 1,
      max: HOUR,
    },
  ),
} as const satisfies Record<string, NumberSetting>;

/** `khctl spawner`. */
export const SPAWNER_SETTINGS = {
  port: {
    env: "SPAWNER_PORT",
    flag: "--port <port>",
    default: 8080,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "port of /healthz, /readyz and /metrics",
  },
  concurrency: {
    env: "SPAWNER_CONCURRENCY",
    flag: "--concurrency <n>",
    default: 10,
    min: 1,
    max: 100,
    integer: true,
    unit: "count",
    summary: "messages handled (Jobs created) at once",
  },
  stuckPullLimitSeconds: seconds(
    "a runner pod waiting in ImagePullBackOff/ErrImagePull/CreateContainerConfigError longer fails its execution (a stack image that is not loaded fails it at once)",
    120,
    { env: "STUCK_PULL_LIMIT_SECONDS", flag: "--stuck-pull-limit <seconds>", min: 10, max: HOUR },
  ),
  requestTimeoutMs: {
    env: "K8S_REQUEST_TIMEOUT_MS",
    flag: "--request-timeout <ms>",
    default: 10_000,
    min: 100,
    max: 5 * MINUTE * 1000,
    integer: true,
    unit: "ms",
    summary: "timeout of each Kubernetes API request",
  },
  shutdownTimeoutSeconds: seconds(
    "on SIGTERM, in-flight Job creates get this long (the pod's grace period is 30)",
    20,
    {
      env: "SHUTDOWN_TIMEOUT_SECONDS",
      flag: "--shutdown-timeout <seconds>",
      max: HOUR,
    },
  ),
} as const satisfies Record<string, NumberSetting>;

/**
 * `khctl run` (the runner). The run timeout's default depends on JOB_ACTIVE_DEADLINE (runner/timeouts.ts):
 * that minus 10 s when it is set, so the run records its own timeout before Kubernetes kills the pod.
 */
export const RUNNER_SETTINGS = {
  stepTimeoutSeconds: seconds("per-step timeout", 60, {
    env: "STEP_TIMEOUT_SECONDS",
    flag: "--step-timeout <seconds>",
    zero: "none",
    min: 0.1,
    max: DAY,
  }),
  runTimeoutSeconds: seconds("whole-run timeout (default JOB_ACTIVE_DEADLINE - 10 when that is set)", 300, {
    env: "RUN_TIMEOUT_SECONDS",
    flag: "--run-timeout <seconds>",
    zero: "none",
    min: 1,
    max: DAY,
  }),
  httpMaxResponseBytes: {
    env: "HTTP_MAX_RESPONSE_BYTES",
    default: 10 * 1024 * 1024,
    min: 1,
    max: 256 * 1024 * 1024,
    integer: true,
    unit: "bytes",
    summary:
      "an HTTP Request step reads at most this much of a response body (a node's maxResponseBytes wins)",
  },
} as const satisfies Record<string, NumberSetting>;

/** The runner Jobs (`khctl spawner`, and the runner's own timeout). Env only: they come from the ConfigMap. */
export const JOB_SETTINGS = {
  jobTtlSeconds: seconds("a finished Job is deleted after this", 3600, {
    env: "JOB_TTL_SECONDS",
    integer: true,
    max: 7 * DAY,
  }),
  jobActiveDeadlineSeconds: seconds("a runner Job is killed after this many seconds", 300, {
    env: "JOB_ACTIVE_DEADLINE",
    integer: true,
    min: 1,
    max: DAY,
  }),
  maxConcurrentJobs: {
    env: "MAX_CONCURRENT_JOBS",
    default: 10,
    min: 1,
    max: 1000,
    integer: true,
    unit: "count",
    summary: "active runner Jobs at most; at the cap nothing is received",
  },
} as const satisfies Record<string, NumberSetting>;

/** The web console's port (`khctl dev` and `khctl console`): next to dev's Postgres, SQS and demo API ports. */
const CONSOLE_PORT = 54_332;

/** Flags of the other commands, with no environment variable. */
export const FLAG_SETTINGS = {
  devPostgresPort: {
    flag: "--port <port>",
    default: 54_329,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "Postgres port on 127.0.0.1 (any free port when it is taken)",
  },
  devSqsPort: {
    flag: "--sqs-port <port>",
    default: 54_330,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "SQS emulator port on 127.0.0.1 (any free port when it is taken)",
  },
  devDemoApiPort: {
    flag: "--demo-api-port <port>",
    default: 54_331,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "demo API port on 127.0.0.1 (any free port when it is taken)",
  },
  devConsolePort: {
    flag: "--console-port <port>",
    default: CONSOLE_PORT,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "web console port on 127.0.0.1 (any free port when it is taken)",
  },
  consolePort: {
    flag: "--port <port>",
    default: CONSOLE_PORT,
    min: 0,
    max: 65_535,
    integer: true,
    unit: "port",
    zero: "any free port",
    summary: "port to serve the console on (any free port when it is taken)",
  },
  devShutdownTimeoutSeconds: seconds(
    "on Ctrl-C, runs in flight get this long to finish, then are cancelled (a second Ctrl-C cancels them at once)",
    10,
    { flag: "--shutdown-timeout <seconds>", max: HOUR },
  ),
  triggerWaitSeconds: seconds("with --wait: give up after this long", 600, {
    flag: "--timeout <seconds>",
    zero: "never",
    min: 1,
    max: DAY,
  }),
  queueVisibilitySeconds: seconds("the queue's visibility timeout (SQS allows up to 12 hours)", 60, {
    flag: "--visibility-timeout <seconds>",
    integer: true,
    min: 1,
    max: 12 * HOUR,
  }),
  queueCheckTimeoutSeconds: seconds("give up on an SQS request after this long", 5, {
    flag: "--timeout <seconds>",
    min: 0.1,
    max: 5 * MINUTE,
  }),
  dlqListMax: {
    flag: "--max <n>",
    default: 50,
    min: 1,
    max: 10_000,
    integer: true,
    unit: "count",
    summary: "messages shown at most",
  },
  dlqRedriveMax: {
    flag: "--max <n>",
    default: 1000,
    min: 1,
    max: 100_000,
    integer: true,
    unit: "count",
    summary: "messages handled at most (with --message: looked through for them)",
  },
  executionListLimit: {
    flag: "--limit <n>",
    default: 20,
    min: 1,
    max: 1000,
    integer: true,
    unit: "count",
    summary: "executions shown at most",
  },
} as const satisfies Record<string, NumberSetting>;

/** Every setting read from the environment, for the docs/configuration.md check. */
export const ENV_SETTINGS: readonly (NumberSetting & { env: string })[] = [
  DISPATCHER_SETTINGS,
  EXECUTOR_SETTINGS,
  STALE_RUN_SETTINGS,
  SPAWNER_SETTINGS,
  RUNNER_SETTINGS,
  JOB_SETTINGS,
].flatMap((group) => Object.values(group) as (NumberSetting & { env: string })[]);

/**
 * Variables an earlier version read, with what replaced them: a service refuses to start while one is
 * set, rather than silently ignore it.
 */
export const REPLACED_SETTINGS: Readonly<Record<string, string>> = {
  RUNNER_LOST_AFTER_SECONDS: `${STALE_RUN_SETTINGS.pendingLimitSeconds.env} and ${STALE_RUN_SETTINGS.lostRunGraceSeconds.env}`,
  EXECUTOR_LOST_RUN_GRACE_SECONDS: STALE_RUN_SETTINGS.lostRunGraceSeconds.env,
  EXECUTOR_LOST_RUN_SWEEP_SECONDS: STALE_RUN_SETTINGS.reconcileIntervalSeconds.env,
};
