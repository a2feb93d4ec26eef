import { DOCKER, type Profile, STACK_LABEL } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { ContainerInfo, ContainerRestarts } from "../doctor/docker.js";
import { type StatusPart, unreachable } from "./parts.js";

/** The containers each profile needs running; the app is optional in both Docker profiles, cluster has none. */
export function requiredContainers(profile: Profile): string[] {
  if (profile === "cluster") return [];
  return profile === "dev"
    ? [DOCKER.postgres, DOCKER.localstack, DOCKER.dispatcher, DOCKER.executor]
    : [DOCKER.postgres, DOCKER.localstack];
}

const OURS = new Set<string>(Object.values(DOCKER));

/**
 * How long a restarted container must stay up before it counts as up again, ms: Docker resets its restart
 * back-off after a container ran 10 s, so until then it has not shown that it stays up. Between its crashes
 * a crash-looping container is `running` for a moment; its restart count and start time give it away.
 */
export const CRASH_LOOP_WINDOW_MS = 10_000;

/** The containers of the stacks: the fixed names, and any container with a stack label. */
export function isStackContainer(container: ContainerInfo): boolean {
  return OURS.has(container.name) || container.labels[STACK_LABEL] !== undefined;
}

export interface ContainerStatus {
  readonly name: string;
  readonly state: string;
  readonly health: string | undefined;
  readonly ports: string;
  readonly stack: string | undefined;
  /** Restarts by its restart policy since it was created. */
  readonly restarts: number;
  /** Running, healthy when it has a health check, and not crash-looping. */
  readonly up: boolean;
  /** Why it is not up ("is crash-looping: restarted 5 times, up 1s"); absent when up. */
  readonly problem?: string;
}

const times = (n: number) => `${n} time${n === 1 ? "" : "s"}`;

/** Why a container is not up, or undefined when it is. Pure. */
export function containerProblem(
  container: Pick<ContainerInfo, "state" | "health">,
  restarts: ContainerRestarts | undefined,
  now: Date,
): string | undefined {
  const count = restarts?.restartCount ?? 0;
  const restarted = count > 0 ? `: restarted ${times(count)}` : "";
  if (container.state !== "running") return `is ${container.state}${restarted}`;
  const upMs = restarts?.startedAt ? now.getTime() - restarts.startedAt.getTime() : Number.POSITIVE_INFINITY;
  if (count > 0 && upMs < CRASH_LOOP_WINDOW_MS) {
    return `is crash-looping${restarted}, up ${Math.max(0, Math.round(upMs / 1000))}s`;
  }
  if (container.health && container.health !== "healthy") return `is ${container.health}`;
  return undefined;
}

/**
 * The containers part from `docker ps` (or the error listing them) and `docker inspect`'s restart counts
 * (missing ones count as none). Pure.
 */
export function containersPart(
  profile: Profile,
  listed: ContainerInfo[] | Error,
  restarts: ReadonlyMap<string, ContainerRestarts> = new Map(),
  now: Date = new Date(),
): StatusPart<ContainerStatus[]> {
  if (listed instanceof Error) {
    return unreachable("containers", true, `Docker is not reachable: ${errorMessage(listed)} (khctl doctor)`);
  }
  const data: ContainerStatus[] = listed.filter(isStackContainer).map((c) => {
    const problem = containerProblem(c, restarts.get(c.name), now);
    return {
      name: c.name,
      state: c.state,
      health: c.health,
      ports: c.ports,
      stack: c.labels[STACK_LABEL],
      restarts: restarts.get(c.name)?.restartCount ?? 0,
      up: problem === undefined,
      ...(problem ? { problem } : {}),
    };
  });
  const problems = requiredContainers(profile).flatMap((name) => {
    const found = data.find((c) => c.name === name);
    if (!found) return [`${name} is missing`];
    return found.problem ? [`${name} ${found.problem}`] : [];
  });
  return {
    name: "containers",
    required: true,
    ok: problems.length === 0,
    summary:
      problems.length === 0
        ? `${data.filter((c) => c.up).length} running`
        : `${problems.join("; ")} (pulumi up, or docker logs <name>)`,
    lines: data.map(
      (c) =>
        `${c.name.padEnd(22)} ${c.state.padEnd(10)} ${(c.health ?? "-").padEnd(10)} ${c.ports || "-"}${
          c.stack ? `  [stack ${c.stack}]` : ""
        }${c.problem ? `  DOWN: ${c.problem}` : c.restarts > 0 ? `  (restarted ${times(c.restarts)})` : ""}`,
    ),
    data,
  };
}
