import { RUNNER_CONTAINER, runnerSelector } from "../contracts/job-template.js";
import { type KubeApi, listPods } from "../spawner/kube.js";
import type { RunnerPod, RunnerPodLookup } from "./pages/execution.js";

/**
 * The runner pod of an execution's Job (the hybrid stack), found by its execution-id label as `khctl
 * logs` finds it: the newest, with its phase, and why its container waits when it does
 * (`Pending: ImagePullBackOff`). The API client is made on first use; a cluster that cannot be reached
 * is the page's one line, not an error page.
 */
export function runnerPodLookup(connect: () => KubeApi): RunnerPodLookup {
  let api: KubeApi | undefined;
  return async (executionId): Promise<RunnerPod | null> => {
    api ??= connect();
    const pods = await listPods(api, runnerSelector(executionId));
    const newest = pods.sort(
      (a, b) =>
        (b.metadata?.creationTimestamp?.getTime() ?? 0) - (a.metadata?.creationTimestamp?.getTime() ?? 0),
    )[0];
    if (!newest?.metadata?.name) return null;
    const waiting = newest.status?.containerStatuses?.find((s) => s.name === RUNNER_CONTAINER)?.state
      ?.waiting;
    const phase = newest.status?.phase ?? "Unknown";
    return { name: newest.metadata.name, phase: waiting?.reason ? `${phase}: ${waiting.reason}` : phase };
  };
}
