import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import {
  dispatcherCronJobArgs,
  reachCheckArgs,
  SERVICE_UID,
  spawnerDeploymentArgs,
} from "../../infra/cluster/index.js";
import { WORKER_ARGS } from "../../infra/local-services.js";
import { MIGRATE_ARGS } from "../../infra/migrations.js";
import { doctorArgs } from "../../infra/preflight.js";
import { QUEUE_CHECK_ARGS, QUEUE_ENSURE_ARGS } from "../../infra/queue.js";
import { buildProgram } from "../../services/cli/program.js";
import { buildJobTemplate, RUNNER_UID } from "../../services/contracts/job-template.js";
import { SPAWNER_HEALTH } from "../../services/contracts/names.js";

/** The value at a dotted path of plain JSON (the specs' inputs are plain values here). */
function dig(value: unknown, path: string): string[] {
  let at: unknown = value;
  for (const key of path.split(".")) at = (at as Record<string, unknown> | undefined)?.[key];
  return at as string[];
}

/** The command an argv selects, and the flags it was given that the command does not know. */
function resolve(program: Command, argv: readonly string[]): { path: string[]; unknownFlags: string[] } {
  let command = program;
  const path: string[] = [];
  for (const word of argv) {
    if (word.startsWith("-")) break;
    const next = command.commands.find((c) => c.name() === word);
    if (!next) break;
    command = next;
    path.push(word);
  }
  const known = new Set(command.options.flatMap((o) => [o.long, o.short].filter(Boolean) as string[]));
  known.add("--help");
  const unknownFlags = argv.filter(
    (word) => word.startsWith("--") && !known.has(word.split("=")[0] as string),
  );
  return { path, unknownFlags };
}

const program = await buildProgram();

describe("the khctl verbs the Pulumi program runs", () => {
  const pod = {
    namespace: "local",
    image: "keeperhub-scheduler:0",
    startingDeadlineSeconds: 30,
    configHash: "0",
  };
  const uses: [string, readonly string[], string[]][] = [
    [
      "preflight",
      doctorArgs({
        profile: "minikube",
        stack: "hybrid",
        ports: { postgres: 1, localstack: 2, app: 3 },
        appEnabled: true,
        localstack: { image: "localstack/localstack:2026.3.0", authTokenSet: true },
      }),
      ["doctor"],
    ],
    [
      "preflight report",
      [
        ...doctorArgs({
          profile: "dev",
          stack: "local",
          ports: { postgres: 1, localstack: 2, app: 3 },
          appEnabled: false,
          localstack: { image: "localstack/localstack:4.14.0", authTokenSet: false },
        }),
        "--json",
      ],
      ["doctor"],
    ],
    ["reachability check", reachCheckArgs(["postgres=host.minikube.internal:5433"]), ["doctor"]],
    ["queue", QUEUE_ENSURE_ARGS, ["queue", "ensure"]],
    ["queue check", [...QUEUE_CHECK_ARGS, "--json"], ["queue", "check"]],
    ["migrations", MIGRATE_ARGS, ["migrate"]],
    ["dispatcher container", WORKER_ARGS.dispatcher, ["dispatch"]],
    ["executor container", WORKER_ARGS.executor, ["executor"]],
    [
      "spawner Deployment",
      dig(
        spawnerDeploymentArgs({ ...pod, runnerImage: "r:0", probes: SPAWNER_HEALTH, configHash: "0" }),
        "spec.template.spec.containers.0.args",
      ),
      ["spawner"],
    ],
    [
      "dispatcher CronJob",
      dig(dispatcherCronJobArgs(pod), "spec.jobTemplate.spec.template.spec.containers.0.args"),
      ["dispatch"],
    ],
    [
      "runner Job",
      buildJobTemplate({
        executionId: "a".repeat(21),
        workflowId: "w",
        config: { namespace: "local", runnerImage: "r:0", jobTtlSeconds: 1, jobActiveDeadlineSeconds: 1 },
      }).spec?.template.spec?.containers[0]?.args ?? [],
      ["run"],
    ],
  ];
  for (const [who, argv, expected] of uses) {
    it(`${who}: khctl ${argv.join(" ")} is a command with those flags`, () => {
      expect(resolve(program, argv)).toEqual({ path: expected, unknownFlags: [] });
    });
  }

  it("runs the pods as the image's user", () => {
    expect(SERVICE_UID).toBe(RUNNER_UID);
  });
});
