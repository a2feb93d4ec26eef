import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  deleteRunnerJobsScript,
  imageLoadScript,
  imageUnloadScript,
  kubeNodeImageLoader,
  minikubeImageLoader,
  minikubeStartScript,
  observeScript,
  reachCheckScript,
} from "../../infra/cluster/index.js";
import {
  CONFIG_DEFAULTS,
  CONFIG_DOCS,
  configTableMarkdown,
  DEFAULT_NODE_IMAGE,
  isPinnedImage,
  parseStackConfig,
  StackConfigError,
} from "../../infra/config.js";
import { setPasswordScript } from "../../infra/containers.js";
import { imageRemoveScript, imageTag } from "../../infra/images.js";
import { khctl, khctlReport } from "../../infra/khctl.js";
import { parseQueueCheck, queueUrls } from "../../infra/queue.js";
import { DEFAULT_PORTS, SERVICE_DEFAULTS } from "../../services/contracts/names.js";

const ROOT = new URL("../../", import.meta.url);

/** The error message parseStackConfig throws for `raw`. */
function problems(raw: Record<string, string>, stack = "hybrid"): string {
  try {
    parseStackConfig(raw, stack);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a StackConfigError");
}

describe("stack config", () => {
  it("defaults the profile from the stack name and every setting to its one definition", () => {
    const config = parseStackConfig({}, "hybrid");
    expect(config).toMatchObject({
      profile: "minikube",
      ports: { postgres: 5433, localstack: 4566, app: 3000 },
      nodeImage: DEFAULT_NODE_IMAGE,
      minikube: { profile: "minikube", memoryMb: 4096, cpus: 2, stopOnDestroy: false },
      kubeContext: "minikube",
      namespace: "local",
      jobs: { ttlSeconds: 3600, activeDeadlineSeconds: 300, maxConcurrent: 10 },
      appCheckoutPath: undefined,
      logLevel: "info",
      awsRegion: "us-east-1",
    });
    // The services' own defaults and the stack's are the same constants.
    expect(CONFIG_DEFAULTS).toMatchObject({
      postgresPort: DEFAULT_PORTS.postgres,
      jobTtlSeconds: SERVICE_DEFAULTS.jobTtlSeconds,
      maxConcurrentJobs: SERVICE_DEFAULTS.maxConcurrentJobs,
      awsRegion: SERVICE_DEFAULTS.awsRegion,
    });
    expect(parseStackConfig({}, "local").profile).toBe("dev");
    for (const image of Object.values(config.images)) expect(isPinnedImage(image)).toBe(true);
  });

  it("reads numbers and booleans from the strings Pulumi stores, and derives the context from the profile", () => {
    const config = parseStackConfig(
      { postgresPort: "5434", minikubeProfile: "kh", minikubeStopOnDestroy: "true", appPort: "" },
      "hybrid",
    );
    expect(config.ports).toEqual({ postgres: 5434, localstack: 4566, app: 3000 });
    expect(config.minikube).toMatchObject({ profile: "kh", stopOnDestroy: true });
    expect(config.kubeContext).toBe("kh");
    expect(parseStackConfig({ kubeContext: "other" }, "hybrid").kubeContext).toBe("other");
  });

  it("reports every bad setting at once, each by its full name", () => {
    const message = problems({
      postgresPort: "eighty",
      localstackPort: "3000",
      postgresImage: "postgres:latest",
      localstackImage: "localstack/localstack",
      namespace: "Local_NS",
      minikubeCpus: "1",
      minikubeStopOnDestroy: "yes",
      appCheckoutPath: "relative/path",
      logLevel: "loud",
      jobTtlSeconds: "1.5",
    });
    for (const line of [
      'keeperhub:postgresPort must be an integer from 1 to 65535 (got "eighty")',
      "keeperhub:appPort 3000 is also keeperhub:localstackPort",
      'keeperhub:postgresImage must be pinned to a version tag or digest, never latest (got "postgres:latest")',
      "keeperhub:localstackImage must be pinned",
      'keeperhub:namespace must be a Kubernetes namespace name (got "Local_NS")',
      'keeperhub:minikubeCpus must be an integer of at least 2 (got "1")',
      'keeperhub:minikubeStopOnDestroy must be true or false (got "yes")',
      'keeperhub:appCheckoutPath must be an absolute path (got "relative/path")',
      'keeperhub:logLevel must be one of trace, debug, info, warn, error, fatal (got "loud")',
      // The service setting's own range (contracts/settings.ts JOB_SETTINGS), not one of the stack's.
      'keeperhub:jobTtlSeconds must be an integer from 0 to 604800 (got "1.5")',
    ]) {
      expect(message).toContain(line);
    }
    expect(message.split("\n").filter((line) => line.startsWith("  - "))).toHaveLength(10);
  });

  it("names a setting that does not exist, and the one it resembles", () => {
    expect(problems({ postgresport: "5434", color: "blue" })).toMatch(
      /keeperhub:postgresport is not a setting \(did you mean keeperhub:postgresPort\?\)[\s\S]*keeperhub:color is not a setting/,
    );
    // The secrets are settings too (read as secrets, never through the schema).
    expect(parseStackConfig({ dbPassword: "x", encryptionKey: "y" }, "local").profile).toBe("dev");
  });

  it("asks for a profile on a stack other than local, hybrid and cluster", () => {
    expect(problems({}, "staging")).toMatch(/keeperhub:profile must be set for stack "staging"/);
    expect(problems({ profile: "prod" }, "local")).toMatch(
      /keeperhub:profile must be one of dev, minikube, cluster \(got "prod"\)/,
    );
    expect(parseStackConfig({ profile: "minikube" }, "staging").profile).toBe("minikube");
  });

  it("rejects an app checkout that does not exist", () => {
    expect(problems({ appCheckoutPath: "/nonexistent/keeperhub" }, "local")).toContain(
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

  it("ships no stack file: the CLI writes its own (with its encryption salt), and git ignores it", () => {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" });
    expect(git("ls-files", "Pulumi.*.yaml").trim()).toBe("");
    for (const stack of ["local", "hybrid"]) {
      // Exit 0 (and the name) only when ignored; a first `pulumi stack select --create` leaves git clean.
      expect(git("check-ignore", `Pulumi.${stack}.yaml`).trim()).toBe(`Pulumi.${stack}.yaml`);
    }
  });

  it("refreshes on every operation (Pulumi.yaml options.refresh: always), so a plain `pulumi up` heals", () => {
    const project = readFileSync(new URL("Pulumi.yaml", ROOT), "utf8");
    expect(project).toMatch(/^options:\n(?: {2}#.*\n)* {2}refresh: always$/m);
  });

  it("is documented by docs/stacks.md's table, row for row (regenerate it from configTableMarkdown())", () => {
    const page = readFileSync(new URL("docs/stacks.md", ROOT), "utf8");
    const table = /^\| key \| default \|[\s\S]*?(?=\n\n)/m.exec(page)?.[0];
    expect(table).toBe(configTableMarkdown());
    // Every setting of the schema is in the table, and every row is a setting.
    const keys = [...configTableMarkdown().matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    expect(keys.sort()).toEqual(Object.keys(CONFIG_DOCS).sort());
    expect(configTableMarkdown()).toContain(`| \`nodeImage\` | \`${DEFAULT_NODE_IMAGE}\` |`);
  });
});

describe("image tags", () => {
  it("are a content hash: stable for the same inputs, different per target and base image", () => {
    const scheduler = imageTag("scheduler", "node:24.22.3-bookworm-slim");
    expect(scheduler).toMatch(/^[0-9a-f]{16}$/);
    expect(imageTag("scheduler", "node:24.22.3-bookworm-slim")).toBe(scheduler);
    expect(imageTag("runner", "node:24.22.3-bookworm-slim")).not.toBe(scheduler);
    expect(imageTag("scheduler", "node:24.22.2-bookworm-slim")).not.toBe(scheduler);
  });
});

describe("command steps", () => {
  it("computes the queue URLs LocalStack gives with the path strategy (as seen from LocalStack 4.4)", () => {
    expect(queueUrls("localhost:4599", "us-east-1")).toEqual({
      queueUrl: "http://localhost:4599/queue/us-east-1/000000000000/keeperhub-workflow-queue",
      deadLetterQueueUrl: "http://localhost:4599/queue/us-east-1/000000000000/keeperhub-workflow-dlq",
    });
  });

  it("reads `khctl queue check --json`: present, missing, or unknown when LocalStack does not answer", () => {
    const check = (urls: (string | null)[]) =>
      JSON.stringify({ reachable: true, queues: urls.map((url, i) => ({ name: `q${i}`, url })) });
    expect(parseQueueCheck(check(["http://h/q", "http://h/d"]))).toBe("present");
    expect(parseQueueCheck(check(["http://h/q", null]))).toBe("missing");
    expect(parseQueueCheck(JSON.stringify({ reachable: false, error: "refused", queues: [] }))).toBe(
      "unknown",
    );
    // No report at all (khctl did not start): nothing is taken for missing.
    expect(parseQueueCheck("")).toBe("unknown");
    expect(parseQueueCheck("node: not found")).toBe("unknown");
  });

  it("starts minikube only when it is not running, and stops it on destroy only when asked", () => {
    const settings = { profile: "kh", memoryMb: 6144, cpus: 4, stopOnDestroy: false };
    expect(minikubeStartScript(settings)).toBe(
      "minikube -p kh status >/dev/null 2>&1 || minikube -p kh start --memory=6144 --cpus=4",
    );
    expect(imageUnloadScript(minikubeImageLoader("kh"), "keeperhub-runner:abc")).toBe(
      "minikube -p kh image rm keeperhub-runner:abc || true",
    );
  });

  it("loads images through one interface: minikube's `image load`, or the test tools' node.sh", () => {
    const minikube = minikubeImageLoader("kh");
    expect(imageLoadScript(minikube, "keeperhub-runner:abc")).toBe(
      "minikube -p kh image load keeperhub-runner:abc",
    );
    expect(minikube.name).toBe("minikube -p kh");
    const node = kubeNodeImageLoader("/tools/kube/node.sh");
    expect(imageLoadScript(node, "keeperhub-runner:abc")).toBe(
      "bash /tools/kube/node.sh load keeperhub-runner:abc",
    );
    // containerd names it with its registry; removing one that is not there (or a node that is down) is fine.
    expect(imageUnloadScript(node, "keeperhub-runner:abc")).toBe(
      "bash /tools/kube/node.sh crictl rmi docker.io/library/keeperhub-runner:abc >/dev/null 2>&1 || true",
    );
    expect(imageLoadScript(kubeNodeImageLoader("/my tools/node.sh"), "a:b")).toBe(
      "bash '/my tools/node.sh' load a:b",
    );
  });

  it("deletes runner Jobs with kubectl, or minikube's own kubectl when none is installed", () => {
    const script = deleteRunnerJobsScript("kh", "kh-ctx", "local");
    expect(script).toContain(
      'if command -v kubectl >/dev/null 2>&1; then k() { kubectl "$@"; }; else k() { minikube -p kh kubectl -- "$@"; }; fi',
    );
    expect(script).toContain(
      "k --context kh-ctx -n local delete jobs -l app=workflow-runner --ignore-not-found",
    );
    expect(script.split("\n")[0]).toBe(
      'if ! minikube -p kh status >/dev/null 2>&1; then echo "minikube kh is not running: no runner Jobs to delete" >&2; exit 0; fi',
    );
  });

  it("writes scripts that /bin/sh parses", () => {
    const scripts = [
      minikubeStartScript({ profile: "kh", memoryMb: 4096, cpus: 2, stopOnDestroy: false }),
      imageUnloadScript(minikubeImageLoader("kh"), "keeperhub-runner:abc"),
      imageLoadScript(kubeNodeImageLoader("/t/node.sh"), "keeperhub-runner:abc"),
      imageUnloadScript(kubeNodeImageLoader("/t/node.sh"), "keeperhub-runner:abc"),
      imageRemoveScript("keeperhub-runner:abc"),
      deleteRunnerJobsScript("kh", "kh-ctx", "local"),
      observeScript({ profile: "kh", context: "kh-ctx", namespace: "local" }),
      reachCheckScript({
        profile: "kh",
        context: "kh-ctx",
        namespace: "local",
        image: "keeperhub-scheduler:abc",
        targets: ["postgres=host.minikube.internal:5433"],
      }),
      setPasswordScript("keeperhub-db"),
      khctl(["doctor", "--stack", "it's"]),
      khctlReport(["queue", "check"]),
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
