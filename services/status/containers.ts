import { DOCKER, type Profile, STACK_LABEL } from "../contracts/names.js";
import { errorMessage } from "../core/errors.js";
import type { ContainerInfo } from "../doctor/docker.js";
import { type StatusPart, unreachable } from "./parts.js";

/** The containers each profile needs running; the app is optional in both. */
export function requiredContainers(profile: Profile): string[] {
  return profile === "dev"
    ? [DOCKER.postgres, DOCKER.localstack, DOCKER.dispatcher, DOCKER.executor]
    : [DOCKER.postgres, DOCKER.localstack];
}

const OURS = new Set<string>(Object.values(DOCKER));

export interface ContainerStatus {
  readonly name: string;
  readonly state: string;
  readonly health: string | undefined;
  readonly ports: string;
  readonly stack: string | undefined;
}

/** The containers part from `docker ps` (or the error listing them). Pure. */
export function containersPart(
  profile: Profile,
  listed: ContainerInfo[] | Error,
): StatusPart<ContainerStatus[]> {
  if (listed instanceof Error) {
    return unreachable("containers", true, `Docker is not reachable: ${errorMessage(listed)} (khctl doctor)`);
  }
  const ours = listed.filter((c) => OURS.has(c.name) || c.labels[STACK_LABEL]);
  const data = ours.map((c) => ({
    name: c.name,
    state: c.state,
    health: c.health,
    ports: c.ports,
    stack: c.labels[STACK_LABEL],
  }));
  const problems = requiredContainers(profile).flatMap((name) => {
    const found = ours.find((c) => c.name === name);
    if (!found) return [`${name} is missing`];
    if (found.state !== "running") return [`${name} is ${found.state}`];
    if (found.health && found.health !== "healthy") return [`${name} is ${found.health}`];
    return [];
  });
  return {
    name: "containers",
    required: true,
    ok: problems.length === 0,
    summary:
      problems.length === 0
        ? `${ours.filter((c) => c.state === "running").length} running`
        : `${problems.join("; ")} (pulumi up, or docker logs <name>)`,
    lines: data.map(
      (c) =>
        `${c.name.padEnd(22)} ${c.state.padEnd(10)} ${(c.health ?? "-").padEnd(10)} ${c.ports || "-"}${
          c.stack ? `  [stack ${c.stack}]` : ""
        }`,
    ),
    data,
  };
}
