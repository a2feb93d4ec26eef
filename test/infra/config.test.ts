import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { deleteRunnerJobsScript, imageRemoveScript, minikubeStartScript } from "../../infra/cluster/index.js";
import { isPinnedImage, parseStackConfig, StackConfigError } from "../../infra/config.js";
import { imageTag } from "../../infra/images.js";
import { khctl } from "../../infra/khctl.js";
import { parseEnsureOutput } from "../../infra/queue.js";

const reader = (values: Record<string, string>) => (key: string) => values[key];

/** The `keeperhub:` settings of a stack file (flat `  keeperhub:key: value` lines; comments skipped). */
function stackFile(stack: string): Record<string, string> {
  const text = readFileSync(new URL(`../../Pulumi.${stack}.yaml`, import.meta.url), "utf8");
  const entries = [...text.matchAll(/^ {2}keeperhub:(\w+): *(.*)$/gm)].map(
    (m) => [m[1], (m[2] ?? "").replace(/^"(.*)"$/, "$1")] as const,
  );
  return Object.fromEntries(entries);
}

describe("stack config", () => {
  it("defaults the profile from the stack name and every setting to the documented values", () => {
    const config = parseStackConfig(reader({}), "hybrid");
    expect(config).toMatchObject({
      profile: "minikube",
      ports: { postgres: 5433, localstack: 4566, app: 3000 },
      minikube: { profile: "minikube", memoryMb: 4096, cpus: 2, stopOnDestroy: false },
      kubeContext: "minikube",
      namespace: "local",
      jobs: { ttlSeconds: 3600, activeDeadlineSeconds: 300, maxConcurrent: 10 },
      appCheckoutPath: undefined,
    });
    expect(parseStackConfig(reader({}), "local").profile).toBe("dev");
    for (const image of Object.values(config.images)) expect(isPinnedImage(image)).toBe(true);
  });

  it("reports every bad option at once, each by its full name", () => {
    const bad = {
      postgresPort: "eighty",
      localstackPort: "3000",
      postgresImage: "postgres:latest",
      localstackImage: "localstack/localstack",
      namespace: "Local_NS",
      minikubeCpus: "1",
      minikubeStopOnDestroy: "yes",
      appCheckoutPath: "relative/path",
      logLevel: "loud",
    };
    let error: unknown;
    try {
      parseStackConfig(reader(bad), "hybrid");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    const message = (error as Error).message;
    for (const line of [
      'keeperhub:postgresPort must be an integer from 1 to 65535 (got "eighty")',
      "keeperhub:appPort 3000 is also keeperhub:localstackPort",
      'keeperhub:postgresImage must be pinned to a version tag or digest, never latest (got "postgres:latest")',
      "keeperhub:localstackImage must be pinned",
      "keeperhub:namespace must be a Kubernetes namespace name",
      'keeperhub:minikubeCpus must be an integer of at least 2 (got "1")',
      'keeperhub:minikubeStopOnDestroy must be true or false (got "yes")',
      'keeperhub:appCheckoutPath must be an absolute path (got "relative/path")',
      "keeperhub:logLevel must be one of",
    ]) {
      expect(message).toContain(line);
    }
  });

  it("asks for a profile on a stack other than local and hybrid", () => {
    expect(() => parseStackConfig(reader({}), "staging")).toThrow(
      /keeperhub:profile must be set for stack "staging"/,
    );
    expect(() => parseStackConfig(reader({ profile: "prod" }), "local")).toThrow(
      /keeperhub:profile must be one of dev, minikube \(got "prod"\)/,
    );
    expect(parseStackConfig(reader({ profile: "minikube" }), "staging").profile).toBe("minikube");
  });

  it("rejects an app checkout that does not exist", () => {
    expect(() => parseStackConfig(reader({ appCheckoutPath: "/nonexistent/keeperhub" }), "local")).toThrow(
      "keeperhub:appCheckoutPath /nonexistent/keeperhub is not a directory",
    );
  });

  it("tells pinned images from floating ones", () => {
    expect(isPinnedImage("postgres:16.9")).toBe(true);
    expect(isPinnedImage("registry.local:5000/x/postgres:16.9")).toBe(true);
    expect(isPinnedImage(`postgres@sha256:${"a".repeat(64)}`)).toBe(true);
    expect(isPinnedImage("postgres")).toBe(false);
    expect(isPinnedImage("postgres:latest")).toBe(false);
    expect(isPinnedImage("registry.local:5000/postgres")).toBe(false);
  });

  for (const [stack, profile] of [
    ["local", "dev"],
    ["hybrid", "minikube"],
  ] as const) {
    it(`Pulumi.${stack}.yaml sets only known options, and they validate`, () => {
      const values = stackFile(stack);
      expect(values.profile).toBe(profile);
      const read = new Set<string>();
      const config = parseStackConfig((key) => {
        read.add(key);
        return values[key];
      }, stack);
      expect(Object.keys(values).filter((key) => !read.has(key))).toEqual([]);
      // The files restate the defaults: a stack file and the code cannot disagree silently.
      expect(config).toEqual(parseStackConfig(reader({}), stack));
    });
  }
});

describe("image tags", () => {
  it("are a content hash: stable for the same inputs, different per target and base image", () => {
    const scheduler = imageTag("scheduler", "node:20.20.2-bookworm-slim");
    expect(scheduler).toMatch(/^[0-9a-f]{16}$/);
    expect(imageTag("scheduler", "node:20.20.2-bookworm-slim")).toBe(scheduler);
    expect(imageTag("runner", "node:20.20.2-bookworm-slim")).not.toBe(scheduler);
    expect(imageTag("scheduler", "node:20.20.1-bookworm-slim")).not.toBe(scheduler);
  });
});

describe("command steps", () => {
  it("reads the queue URLs from `khctl queue ensure --json`, and names what is missing", () => {
    expect(
      parseEnsureOutput(
        JSON.stringify({ queueUrl: "http://h/1/q", deadLetterQueueUrl: "http://h/1/d", x: 1 }),
      ),
    ).toEqual({ queueUrl: "http://h/1/q", deadLetterQueueUrl: "http://h/1/d" });
    expect(() => parseEnsureOutput("Created queues")).toThrow(/printed no JSON: Created queues/);
    expect(() => parseEnsureOutput(undefined)).toThrow(/printed no JSON/);
    expect(() => parseEnsureOutput('{"queueUrl":"http://h/1/q"}')).toThrow(
      /expected queueUrl and deadLetterQueueUrl/,
    );
  });

  it("starts minikube only when it is not running, and stops it on destroy only when asked", () => {
    const settings = { profile: "kh", memoryMb: 6144, cpus: 4, stopOnDestroy: false };
    expect(minikubeStartScript(settings)).toBe(
      "minikube -p kh status >/dev/null 2>&1 || minikube -p kh start --memory=6144 --cpus=4",
    );
    expect(imageRemoveScript("kh", "keeperhub-runner:abc")).toBe(
      "minikube -p kh image rm keeperhub-runner:abc || true",
    );
  });

  it("deletes runner Jobs with kubectl, or minikube's own kubectl when none is installed", () => {
    const script = deleteRunnerJobsScript("kh", "kh-ctx", "local");
    expect(script).toContain(
      "then kubectl --context kh-ctx -n local delete jobs -l app=workflow-runner --ignore-not-found",
    );
    expect(script).toContain("else minikube -p kh kubectl -- --context kh-ctx -n local delete jobs");
    expect(script.split("\n")[0]).toBe(
      'if ! minikube -p kh status >/dev/null 2>&1; then echo "minikube kh is not running: no runner Jobs to delete" >&2; exit 0; fi',
    );
  });

  it("writes scripts that /bin/sh parses", () => {
    const scripts = [
      minikubeStartScript({ profile: "kh", memoryMb: 4096, cpus: 2, stopOnDestroy: false }),
      imageRemoveScript("kh", "keeperhub-runner:abc"),
      deleteRunnerJobsScript("kh", "kh-ctx", "local"),
      khctl(["doctor", "--stack", "it's"]),
    ];
    for (const script of scripts) expect(() => execFileSync("sh", ["-n", "-c", script])).not.toThrow();
    expect(() => execFileSync("sh", ["-n", "-c", "if then"], { stdio: "ignore" })).toThrow();
  });

  it("quotes what the shell would split", () => {
    expect(khctl(["doctor", "--stack", "my stack"])).toBe(
      "node --import tsx services/cli/main.ts doctor --stack 'my stack'",
    );
  });
});
