import { describe, expect, it } from "vitest";
import { clusterObjectRefs } from "../../infra/cluster/observe.js";
import { CREATED, RESTORE_ANNOTATION, RESTORE_ENV } from "../../infra/drift.js";
import { DEFAULT_NAMESPACE } from "../../services/contracts/names.js";
import {
  COMMAND,
  defaultImageRefs,
  find,
  inputs,
  type MockMachine,
  type ProgramRun,
  type Registration,
  runningCluster,
  runProgram,
} from "./mocks.js";

/**
 * `pulumi up` on a machine where something the stack made is gone: exactly those resources get a new
 * restore token (and lose the ignoreChanges that keeps the stored one), so exactly they run or are
 * created again. Each run is the whole program under mocks; the machine is what its invokes read.
 */

const objects = clusterObjectRefs(DEFAULT_NAMESPACE);

/** The token a resource carries: a command's environment entry, or an object's annotation. */
function tokenOf(r: Registration): string | undefined {
  const values = inputs(r);
  return r.type === COMMAND
    ? values.environment?.[RESTORE_ENV]
    : values.metadata?.annotations?.[RESTORE_ANNOTATION];
}

/** Names of the resources whose token says "restore now" (they run again or are re-created). */
function restored(run: ProgramRun): string[] {
  return run.registrations
    .filter((r) => {
      const token = tokenOf(r);
      if (token === undefined || token === CREATED) return false;
      // A new token must not be masked by ignoreChanges, or the stored one would win.
      const masking = r.ignoreChanges.filter(
        (p) => p.includes(RESTORE_ENV) || p.includes(RESTORE_ANNOTATION),
      );
      expect(masking, r.name).toEqual([]);
      expect(token, r.name).toMatch(/^restored \d{4}-\d\d-\d\dT[\d:.]+Z: was missing$/);
      return true;
    })
    .map((r) => r.name)
    .sort();
}

/** Every resource that carries a token, for checking that the rest keep theirs. */
function withToken(run: ProgramRun): string[] {
  return run.registrations.filter((r) => tokenOf(r) !== undefined).map((r) => r.name);
}

const K8S_OBJECTS = [
  "cluster-namespace",
  "scheduler-config",
  "scheduler-secrets",
  "scheduler-spawner-account",
  "scheduler-spawner-role",
  "scheduler-spawner-binding",
  "scheduler-runner-account",
  "scheduler-spawner",
  "scheduler-dispatcher",
];

async function hybrid(machine: MockMachine): Promise<ProgramRun> {
  const run = await runProgram("hybrid", {}, [], machine);
  expect(run.error).toBeUndefined();
  return run;
}

describe("drift, stack hybrid", () => {
  it("an unchanged machine: nothing is restored, every token is kept", async () => {
    const run = await hybrid({});
    expect(restored(run)).toEqual([]);
    const tokens = withToken(run);
    expect(tokens).toEqual(expect.arrayContaining(["queue-ensure", "cluster-minikube", ...K8S_OBJECTS]));
    for (const name of tokens) {
      const ignored = run.registrations.find((r) => r.name === name)?.ignoreChanges ?? [];
      expect(
        ignored.filter((path) => path.includes("KEEPERHUB_RESTORE") || path.includes(RESTORE_ANNOTATION)),
        name,
      ).toHaveLength(1);
    }
  });

  it("after `docker restart keeperhub-localstack`: only the queues are created again", async () => {
    expect(restored(await hybrid({ queues: "missing" }))).toEqual(["queue-ensure"]);
  });

  it("with LocalStack not answering (first up, or stopped): nothing is taken for missing", async () => {
    expect(restored(await hybrid({ queues: "unreachable" }))).toEqual([]);
  });

  it("after `minikube delete`: minikube, both images, every object and the reachability check", async () => {
    const run = await hybrid({ cluster: "minikube 85 " });
    expect(restored(run)).toEqual(
      [
        "cluster-minikube",
        "cluster-load-scheduler",
        "cluster-load-runner",
        "scheduler-reach-check",
        ...K8S_OBJECTS,
      ].sort(),
    );
    // A re-created object replaces its (absent) predecessor, deleting it first: the names are fixed.
    const deployment = find(run, "kubernetes:apps/v1:Deployment", "scheduler-spawner");
    expect(deployment.replaceOnChanges).toEqual([`metadata.annotations["${RESTORE_ANNOTATION}"]`]);
    expect(deployment.deleteBeforeReplace).toBe(true);
  });

  it("after `minikube stop`: it is started again; images and objects survive a stop and are left as they are", async () => {
    expect(restored(await hybrid({ cluster: "minikube 7 Stopped/Stopped" }))).toEqual([
      "cluster-minikube",
      "scheduler-reach-check",
    ]);
  });

  it("with one image and one object gone from a running minikube: exactly those", async () => {
    const images = defaultImageRefs();
    const cluster = runningCluster(
      [images.scheduler],
      Object.values(objects).filter((o) => o !== objects.spawner),
    );
    expect(restored(await hybrid({ cluster }))).toEqual(["cluster-load-runner", "scheduler-spawner"]);
  });

  it("when minikube could not list its images or objects: nothing is taken for missing", async () => {
    expect(restored(await hybrid({ cluster: "minikube 0 Running/Running" }))).toEqual([]);
  });
});

describe("drift, stack local", () => {
  it("after a LocalStack restart: only the queues; nothing of minikube is looked at", async () => {
    const run = await runProgram("local", {}, [], { queues: "missing" });
    expect(run.error).toBeUndefined();
    expect(restored(run)).toEqual(["queue-ensure"]);
    expect(run.invokes.map((i) => String(i.inputs.command)).some((c) => c.includes("minikube"))).toBe(false);
  });
});
