import path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { hashFiles, listFiles } from "./hash.js";
import { REPO_ROOT } from "./khctl.js";

export const DOCKERFILE = "services/Dockerfile";

/** Which Dockerfile target builds which image. */
export const IMAGE_TARGETS = { scheduler: "scheduler", runner: "runner" } as const;
export type ImageKind = keyof typeof IMAGE_TARGETS;

/**
 * Everything the image build reads (the Dockerfile COPYs nothing else; .dockerignore keeps the rest out).
 * Tests are skipped: they are not in the image, so changing one must not roll out a new image.
 */
export function buildInputs(root: string = REPO_ROOT): string[] {
  const top = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", ".dockerignore"];
  const services = listFiles(
    root,
    "services",
    (name) => name.endsWith(".test.ts") || name === "node_modules",
  );
  return [...top, ...services];
}

/**
 * The content tag of an image: a hash of its build inputs, the target and the base image. Unchanged
 * inputs give the same tag, so the image is neither rebuilt nor reloaded into minikube; any change
 * gives a new tag, so the Deployment and CronJob always roll out the new code.
 */
export function imageTag(kind: ImageKind, nodeImage: string, root: string = REPO_ROOT): string {
  return hashFiles(root, buildInputs(root), [IMAGE_TARGETS[kind], nodeImage]);
}

export interface ImagesArgs {
  /** Base Node image (pinned), passed to the Dockerfile as NODE_IMAGE. */
  readonly nodeImage: string;
  /** Build context. Default: the repository root. */
  readonly root?: string;
}

/** The two service images, built from services/Dockerfile into the local Docker daemon (never pushed). */
export class Images extends pulumi.ComponentResource {
  /** `keeperhub-scheduler:<content tag>`: dispatcher, spawner, executor and khctl. */
  readonly scheduler: docker.Image;
  /** `keeperhub-runner:<content tag>`: one execution per Job. */
  readonly runner: docker.Image;
  /** Full references (name:tag), known before the build. */
  readonly refs: { readonly scheduler: string; readonly runner: string };

  constructor(name: string, args: ImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Images", name, {}, opts);
    const root = args.root ?? REPO_ROOT;
    const build = (kind: ImageKind): [string, docker.Image] => {
      const ref = `${IMAGES[kind]}:${imageTag(kind, args.nodeImage, root)}`;
      const image = new docker.Image(
        `${name}-${kind}`,
        {
          imageName: ref,
          skipPush: true,
          // A preview (PR checks) shows the new tag without spending minutes building.
          buildOnPreview: false,
          build: {
            context: root,
            dockerfile: path.join(root, DOCKERFILE),
            target: IMAGE_TARGETS[kind],
            args: { NODE_IMAGE: args.nodeImage },
            builderVersion: docker.BuilderVersion.BuilderBuildKit,
          },
        },
        childOf(this, opts),
      );
      return [ref, image];
    };
    const [schedulerRef, scheduler] = build("scheduler");
    const [runnerRef, runner] = build("runner");
    this.scheduler = scheduler;
    this.runner = runner;
    this.refs = { scheduler: schedulerRef, runner: runnerRef };
    this.registerOutputs({ scheduler: schedulerRef, runner: runnerRef });
  }
}
