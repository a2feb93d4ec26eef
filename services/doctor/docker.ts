import type { Exec } from "./exec.js";

/** One container as `docker ps` reports it. */
export interface ContainerInfo {
  readonly name: string;
  readonly image: string;
  /** created, running, paused, restarting, exited, dead. */
  readonly state: string;
  /** Docker's human status, e.g. "Up 2 minutes (healthy)". */
  readonly status: string;
  /** healthy, unhealthy, starting, or undefined without a health check. */
  readonly health: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** Host ports the container publishes. */
  readonly hostPorts: readonly number[];
  /** Docker's port summary, e.g. "0.0.0.0:5433->5432/tcp". */
  readonly ports: string;
}

function parseLabels(raw: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** Parses `docker ps --format '{{json .}}'` output (one JSON object a line). Pure. */
export function parseDockerPs(stdout: string): ContainerInfo[] {
  return stdout
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => {
      const row = JSON.parse(line) as Record<string, string>;
      const ports = row.Ports ?? "";
      const hostPorts = [...ports.matchAll(/:(\d+)->/g)].map((m) => Number(m[1]));
      const status = row.Status ?? "";
      const health = /\((healthy|unhealthy|health: starting)\)/.exec(status)?.[1]?.replace("health: ", "");
      return {
        name: row.Names ?? "",
        image: row.Image ?? "",
        state: (row.State ?? "").toLowerCase(),
        status,
        health,
        labels: parseLabels(row.Labels ?? ""),
        hostPorts: [...new Set(hostPorts)],
        ports,
      };
    });
}

/** Every container (running or not). Rejects when Docker cannot be reached. */
export async function listContainers(exec: Exec): Promise<ContainerInfo[]> {
  return parseDockerPs(await exec("docker", ["ps", "--all", "--no-trunc", "--format", "{{json .}}"]));
}

/** What `docker ps` does not say about a container: how often Docker restarted it, and when it last started. */
export interface ContainerRestarts {
  /** Restarts by its restart policy since it was created (Docker's RestartCount). */
  readonly restartCount: number;
  /** When it last started; undefined if it never did. */
  readonly startedAt: Date | undefined;
}

/** Parses `docker inspect` output (a JSON array of containers) by container name. Pure. */
export function parseDockerInspect(stdout: string): Map<string, ContainerRestarts> {
  const rows = JSON.parse(stdout) as {
    Name?: string;
    RestartCount?: number;
    State?: { StartedAt?: string };
  }[];
  return new Map(
    rows.map((row) => {
      const started = row.State?.StartedAt ? new Date(row.State.StartedAt) : undefined;
      // Docker writes the zero time (year 1) for a container that never started.
      const startedAt = started && started.getUTCFullYear() > 1 ? started : undefined;
      return [(row.Name ?? "").replace(/^\//, ""), { restartCount: row.RestartCount ?? 0, startedAt }];
    }),
  );
}

/** The restarts of the named containers (`docker inspect`). Rejects when Docker cannot answer for them all. */
export async function inspectRestarts(
  exec: Exec,
  names: readonly string[],
): Promise<Map<string, ContainerRestarts>> {
  if (names.length === 0) return new Map();
  return parseDockerInspect(await exec("docker", ["inspect", "--type", "container", ...names]));
}
