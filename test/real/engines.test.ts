import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { newId } from "../../services/core/ids.js";
import { ADMIN_KUBECONFIG, DOCKER, KUBECTL } from "./engines.js";

// The engines this tier runs against answer as the real ones do: a namespace with PodSecurity "restricted"
// enforced refuses a pod that may run as root; Docker runs a container from a stand-in image.

const run = promisify(execFile);
const kubectl = (...args: string[]) => run(KUBECTL, ["--kubeconfig", ADMIN_KUBECONFIG, ...args]);

describe("the real engines", () => {
  it("Kubernetes enforces PodSecurity restricted in a namespace that asks for it", async () => {
    const namespace = `kh-test-${newId().slice(0, 8)}`;
    await kubectl("create", "namespace", namespace);
    try {
      await kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted");
      // A plain pod: it may escalate privileges and run as root, which "restricted" refuses.
      const plain = kubectl("-n", namespace, "run", "plain", "--image=busybox:1", "--restart=Never");
      await expect(plain).rejects.toMatchObject({
        stderr: expect.stringMatching(/violates PodSecurity "restricted/),
      });
    } finally {
      await kubectl("delete", "namespace", namespace, "--wait=false");
    }
  });

  it("Docker runs a container from a stand-in image", async () => {
    const name = `kh-test-${newId().slice(0, 8)}`;
    const { stdout } = await run(DOCKER, [
      "run",
      "--rm",
      "--name",
      name,
      "debian:bookworm-slim",
      "echo",
      "hello",
    ]);
    expect(stdout.trim()).toBe("hello");
  });
});
