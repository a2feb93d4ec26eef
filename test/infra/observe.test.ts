import { describe, expect, it } from "vitest";
import {
  clusterObjectRefs,
  parseObservation,
  seenImage,
  seenMinikube,
  seenObject,
} from "../../infra/cluster/observe.js";
import {
  CREATED,
  commandRestore,
  objectRestore,
  RESTORE_ANNOTATION,
  restoreToken,
} from "../../infra/drift.js";
import { hostPlatform } from "../../infra/images.js";

const objects = clusterObjectRefs("local");

describe("reading minikube's state (observeScript's output)", () => {
  it("a running minikube: its images without their registry prefix, and the objects present", () => {
    const observed = parseObservation(
      [
        "minikube 0 Running/Running",
        "image docker.io/library/keeperhub-runner:abc",
        "image docker.io/kicbase/echo-server:1.0",
        "image registry.k8s.io/pause:3.10",
        "images listed",
        `object ${objects.namespace}`,
        `object ${objects.spawner}`,
        "objects listed",
        "",
      ].join("\n"),
    );
    expect(observed).toEqual({
      minikube: "running",
      images: ["keeperhub-runner:abc", "kicbase/echo-server:1.0", "registry.k8s.io/pause:3.10"],
      objects: [objects.namespace, objects.spawner],
    });
    expect(seenMinikube(observed)).toBe("present");
    expect(seenImage(observed, "keeperhub-runner:abc")).toBe("present");
    expect(seenImage(observed, "keeperhub-runner:def")).toBe("missing");
    expect(seenObject(observed, objects.spawner)).toBe("present");
    expect(seenObject(observed, objects.dispatcher)).toBe("missing");
  });

  it("a running minikube with no object left: the empty listing still counts as listed", () => {
    const observed = parseObservation("minikube 0 Running/Running\nimages listed\nobject\nobjects listed\n");
    expect(observed).toEqual({ minikube: "running", images: [], objects: [] });
    expect(seenObject(observed, objects.namespace)).toBe("missing");
  });

  it("a listing that failed is unknown, never missing", () => {
    const observed = parseObservation("minikube 0 Running/Running\n");
    expect(observed).toEqual({ minikube: "running" });
    expect(seenImage(observed, "keeperhub-runner:abc")).toBe("unknown");
    expect(seenObject(observed, objects.namespace)).toBe("unknown");
  });

  it("a stopped minikube is started; what it keeps across a stop is left as is", () => {
    const observed = parseObservation("minikube 7 Stopped/Stopped\n");
    expect(observed).toEqual({ minikube: "stopped" });
    expect(seenMinikube(observed)).toBe("missing");
    expect(seenImage(observed, "x:1")).toBe("unknown");
    expect(seenObject(observed, objects.namespace)).toBe("unknown");
  });

  it("a deleted minikube (profile not found, exit 85) has nothing: everything is missing", () => {
    for (const output of ["minikube 85 \n", "minikube 7 Nonexistent/Nonexistent\n"]) {
      const observed = parseObservation(output);
      expect(observed.minikube, output).toBe("absent");
      expect(seenImage(observed, "x:1")).toBe("missing");
      expect(seenObject(observed, objects.namespace)).toBe("missing");
    }
  });
});

describe("restore tokens", () => {
  const at = new Date("2026-12-01T10:00:00.000Z");

  it("keep the stored token while the thing exists or cannot be seen", () => {
    for (const seen of ["present", "unknown"] as const) {
      expect(restoreToken(seen, "environment.X", at)).toEqual({
        token: CREATED,
        ignoreChanges: ["environment.X"],
      });
    }
  });

  it("change, with the time, when it is missing, so even a second loss differs from the stored token", () => {
    expect(restoreToken("missing", "environment.X", at)).toEqual({
      token: "restored 2026-12-01T10:00:00.000Z: was missing",
      ignoreChanges: [],
    });
    expect(restoreToken("missing", "p", new Date(at.getTime() + 1)).token).not.toBe(
      restoreToken("missing", "p", at).token,
    );
  });

  it("ride in a command's environment, or an object's annotation with a replace that deletes first", () => {
    expect(commandRestore("present", at)).toEqual({
      environment: { KEEPERHUB_RESTORE: CREATED },
      ignoreChanges: ["environment.KEEPERHUB_RESTORE"],
    });
    expect(objectRestore("present", at)).toEqual({
      annotations: { [RESTORE_ANNOTATION]: CREATED },
      options: {
        ignoreChanges: [`metadata.annotations["${RESTORE_ANNOTATION}"]`],
        replaceOnChanges: ["metadata.annotations"],
        deleteBeforeReplace: true,
      },
    });
  });
});

describe("image platform", () => {
  it("is this machine's, in Docker's words", () => {
    expect(hostPlatform("x64")).toBe("linux/amd64");
    expect(hostPlatform("arm64")).toBe("linux/arm64");
  });
});
