import { execFile, execFileSync } from "node:child_process";
import { chmod, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import {
  clusterObjectRefs,
  observeScript,
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
import { createTempDir } from "../helpers/temp.js";

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

describe("observeScript under /bin/sh, with stand-ins for minikube and kubectl", async () => {
  // The stand-ins answer like the real CLIs (formats checked against a real kube-apiserver's `kubectl get
  // -o name`); env vars choose the machine's state.
  const bin = await createTempDir("kh-observe-bin");
  const stub = async (name: string, body: string) => {
    await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    await chmod(path.join(bin, name), 0o755);
  };
  await stub(
    "minikube",
    `case "$*" in
  *"status --format"*) [ -n "$MK_STATE" ] && echo "$MK_STATE"; exit "\${MK_CODE:-0}";;
  *"image ls"*) echo docker.io/library/keeperhub-runner:abc;;
  *"kubectl --"*) echo namespace/local; echo "via minikube" >&2;;
  *) exit 1;;
esac`,
  );
  const kubectl = `[ -n "$KC_FAIL" ] && { echo "error: context not found" >&2; exit 1; }
echo namespace/local; echo deployment.apps/job-spawner`;
  const script = observeScript({ profile: "kh", context: "kh-ctx", namespace: "local" });
  // Only the stand-ins and sed on PATH: a kubectl installed on this machine must not be found.
  await symlink(
    execFileSync("sh", ["-c", "command -v sed"], { encoding: "utf8" }).trim(),
    path.join(bin, "sed"),
  );
  const run = async (env: Record<string, string>, withKubectl = true) => {
    if (withKubectl) await stub("kubectl", kubectl);
    else await rm(path.join(bin, "kubectl"), { force: true });
    const { stdout } = await promisify(execFile)("/bin/sh", ["-c", script], { env: { PATH: bin, ...env } });
    return parseObservation(stdout);
  };

  it("a running minikube: its images and the objects kubectl lists", async () => {
    expect(await run({ MK_STATE: "Running/Running" })).toEqual({
      minikube: "running",
      images: ["keeperhub-runner:abc"],
      objects: ["namespace/local", "deployment.apps/job-spawner"],
    });
  });

  it("without kubectl, minikube's own", async () => {
    expect((await run({ MK_STATE: "Running/Running" }, false)).objects).toEqual(["namespace/local"]);
  });

  it("a kubectl that fails lists nothing, so nothing is taken for missing", async () => {
    expect(await run({ MK_STATE: "Running/Running", KC_FAIL: "1" })).toEqual({
      minikube: "running",
      images: ["keeperhub-runner:abc"],
    });
  });

  it("a stopped minikube, and a deleted one (exit 85), are not asked for images or objects", async () => {
    expect(await run({ MK_STATE: "Stopped/Stopped", MK_CODE: "7" })).toEqual({ minikube: "stopped" });
    expect(await run({ MK_CODE: "85" })).toEqual({ minikube: "absent" });
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
        replaceOnChanges: [`metadata.annotations["${RESTORE_ANNOTATION}"]`],
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
