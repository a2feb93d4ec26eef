import { beforeAll, describe, expect, it } from "vitest";
import { IMAGES } from "../../services/contracts/names.js";
import {
  COMMAND,
  CONTAINER,
  defaultImageRefs,
  find,
  IMAGE,
  inputs,
  type ProgramRun,
  type Registration,
  runProgram,
} from "./mocks.js";

// `pulumi up --target <one resource>`: the engine runs the whole program, but answers every resource it
// does not target with its old state. Here the source changed (the program builds a new tag) and the images
// are not targeted: they keep the old tag, which is the only one that was built. A worker, a load or a
// Kubernetes object that named the program's new tag would point at an image that does not exist.

const OLD = {
  scheduler: `${IMAGES.scheduler}:0000000000000000`,
  runner: `${IMAGES.runner}:0000000000000000`,
};
const staleImage = (ref: string) => ({ imageName: ref, repoDigest: `${ref}@sha256:0` });
const stale = {
  "images-scheduler": staleImage(OLD.scheduler),
  "images-runner": staleImage(OLD.runner),
};

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CRONJOB = "kubernetes:batch/v1:CronJob";
const SECRET = "kubernetes:core/v1:Secret";

let local: ProgramRun;
let hybrid: ProgramRun;

beforeAll(async () => {
  local = await runProgram("local", {}, [], { stale });
  hybrid = await runProgram("hybrid", {}, [], { stale });
});

/** Every image tag named anywhere in a run's inputs. */
function tagsNamed(run: ProgramRun): string[] {
  const text = JSON.stringify(run.registrations.filter((r) => r.type !== IMAGE).map(inputs));
  return [...new Set(text.match(/keeperhub-(scheduler|runner):[0-9a-f]{16}/g) ?? [])].sort();
}

const directlyOn = (a: Registration, b: Registration) => a.dependencies.includes(b.urn);

describe("--target of a worker while its image is not targeted", () => {
  it("local: the executor and the dispatcher name the tag the image resource holds, not the program's new one", () => {
    expect(defaultImageRefs().scheduler).not.toBe(OLD.scheduler);
    for (const name of ["workers-executor", "workers-dispatcher"]) {
      expect(inputs(find(local, CONTAINER, name)).image, name).toBe(OLD.scheduler);
    }
    expect(tagsNamed(local)).toEqual([OLD.scheduler]);
  });

  it("hybrid: the loads, the reachability check, the Deployment (RUNNER_IMAGE too) and the CronJob do too", () => {
    expect(tagsNamed(hybrid)).toEqual([OLD.runner, OLD.scheduler].sort());
    const spawner = inputs(find(hybrid, DEPLOYMENT, "scheduler-spawner")).spec.template.spec.containers[0];
    expect(spawner.image).toBe(OLD.scheduler);
    expect(spawner.env).toContainEqual({ name: "RUNNER_IMAGE", value: OLD.runner });
    expect(inputs(find(hybrid, COMMAND, "cluster-load-runner")).create).toBe(
      `minikube -p minikube image load ${OLD.runner}`,
    );
  });
});

describe("--target of an image, with --target-dependents", () => {
  it("brings along everything that names it: a worker, its clean-up, its load into minikube", () => {
    const scheduler = find(local, IMAGE, "images-scheduler");
    for (const name of ["workers-executor", "workers-dispatcher"]) {
      expect(directlyOn(find(local, CONTAINER, name), scheduler), name).toBe(true);
    }
    expect(directlyOn(find(local, COMMAND, "images-scheduler-cleanup"), scheduler)).toBe(true);
    const runner = find(hybrid, IMAGE, "images-runner");
    expect(directlyOn(find(hybrid, COMMAND, "cluster-load-runner"), runner)).toBe(true);
    // The Deployment names the runner's tag (RUNNER_IMAGE) and waits for its load.
    const spawner = find(hybrid, DEPLOYMENT, "scheduler-spawner");
    expect(directlyOn(spawner, find(hybrid, COMMAND, "cluster-load-runner"))).toBe(true);
  });
});

describe("--target of the Secret, with --target-dependents", () => {
  it("rolls the spawner and the dispatcher with it (both depend on it; their hash is of its data)", () => {
    const secret = find(hybrid, SECRET, "scheduler-secrets");
    expect(directlyOn(find(hybrid, DEPLOYMENT, "scheduler-spawner"), secret)).toBe(true);
    expect(directlyOn(find(hybrid, CRONJOB, "scheduler-dispatcher"), secret)).toBe(true);
  });
});
