import path from "node:path";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "../services/contracts/names.js";
import { childOf } from "./component.js";
import { hashFiles, listFiles } from "./hash.js";
import { REPO_ROOT, shellQuote } from "./khctl.js";

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

/**
 * The platform images are built for: this machine's, stated explicitly (the provider otherwise picks the
 * same one and prints a notice about it on every preview).
 */
export function hostPlatform(arch: string = process.arch): string {
  return `linux/${arch === "x64" ? "amd64" : arch}`;
}

/**
 * Removes a built image from the local Docker daemon. The docker provider leaves built images behind on
 * delete (deliberately), so a command does it: on destroy, and for the old tag when a change replaces it.
 * An image already gone is fine; any other failure (still in use) stops with Docker's message.
 */
export function imageRemoveScript(ref: string): string {
  const quoted = shellQuote(ref);
  return `if docker image inspect ${quoted} >/dev/null 2>&1; then docker image rm ${quoted}; fi`;
}

/**
 * Where the cluster profile pushes its images. Credentials: a user with a secret password, or none (the
 * Docker config's: `docker login`, a credential helper such as ECR's).
 */
export interface RegistryPush {
  /** `host[:port]/path` the images are named under. */
  readonly repository: string;
  /** `host[:port]`, the server the push authenticates to. */
  readonly server: string;
  readonly username?: string;
  readonly password?: pulumi.Output<string>;
}

export interface ImagesArgs {
  /** Base Node image (pinned), passed to the Dockerfile as NODE_IMAGE. */
  readonly nodeImage: string;
  /** Build keeperhub-runner too: only the minikube profile runs it (the dev executor runs the scheduler image). */
  readonly runner: boolean;
  /** Build context. Default: the repository root. */
  readonly root?: string;
  /** Push to this registry and name the images by digest; undefined: local images only (never pushed). */
  readonly registry?: RegistryPush;
}

/** One built image: the build, its content-tagged reference, and the command that removes it. */
export interface BuiltImage {
  readonly build: docker.Image;
  /** `name:tag` this program builds (known before the build): what observations of minikube look for. */
  readonly tag: string;
  /**
   * `name:tag` as the image resource holds it (pushed: `repo@sha256:…`, the digest the push returned):
   * what every consumer names. Under `pulumi up --target` of a consumer alone, the untargeted image keeps
   * its old state, so the consumer names the image that was built, never one that was not (and, being an
   * output of the image, it depends on it: `--target-dependents`).
   */
  readonly ref: pulumi.Output<string>;
  /** Removes the image on destroy, and the previous tag when a new one replaces it. */
  readonly cleanup: command.local.Command;
}

/** The docker provider's arguments that build `kind` as `ref` from `root`, for this machine. Pure. */
export function imageBuildArgs(
  kind: ImageKind,
  ref: string,
  nodeImage: string,
  root: string,
  registry?: RegistryPush,
): docker.ImageArgs {
  return {
    imageName: ref,
    skipPush: registry === undefined,
    ...(registry
      ? { registry: { server: registry.server, username: registry.username, password: registry.password } }
      : {}),
    // A preview (PR checks) shows the new tag without spending minutes building.
    buildOnPreview: false,
    build: {
      context: root,
      dockerfile: path.join(root, DOCKERFILE),
      target: IMAGE_TARGETS[kind],
      args: { NODE_IMAGE: nodeImage },
      platform: hostPlatform(),
      builderVersion: docker.BuilderVersion.BuilderBuildKit,
    },
  };
}

/** The name an image is built as: `keeperhub-<kind>:<tag>`, under the registry when it is pushed. Pure. */
export function imageName(kind: ImageKind, tag: string, registry?: RegistryPush): string {
  const local = `${IMAGES[kind]}:${tag}`;
  return registry ? `${registry.repository}/${local}` : local;
}

/**
 * The service images the stack runs, built from services/Dockerfile into the local Docker daemon and
 * removed from it again by `pulumi destroy`, old tags as soon as a new one replaces them. The pulled base
 * images stay (a cache, not something the stack made). With a registry (cluster profile) each is also
 * pushed, and consumers name its digest; what was pushed stays in the registry (its own retention rules).
 */
export class Images extends pulumi.ComponentResource {
  /** keeperhub-scheduler: dispatcher, spawner, executor and khctl. */
  readonly scheduler: BuiltImage;
  /** keeperhub-runner: one execution per Job (minikube profile only). */
  readonly runner: BuiltImage | undefined;
  /** Full references (name:tag) of the built images. */
  readonly refs: { readonly scheduler: pulumi.Output<string>; readonly runner?: pulumi.Output<string> };

  constructor(name: string, args: ImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Images", name, {}, opts);
    const root = args.root ?? REPO_ROOT;
    const build = (kind: ImageKind): BuiltImage => {
      const tag = imageName(kind, imageTag(kind, args.nodeImage, root), args.registry);
      const image = new docker.Image(
        `${name}-${kind}`,
        imageBuildArgs(kind, tag, args.nodeImage, root, args.registry),
        childOf(this, opts),
      );
      // A pushed image by digest: a rollout happens exactly when the content (hence the push) changes.
      const ref = args.registry ? image.repoDigest : image.imageName;
      const cleanup = new command.local.Command(
        `${name}-${kind}-cleanup`,
        // Only a delete: a new tag replaces this resource, whose delete then removes the old tag.
        { delete: image.imageName.apply(imageRemoveScript), triggers: [image.imageName] },
        childOf(this, opts, { dependsOn: [image] }),
      );
      return { build: image, tag, ref, cleanup };
    };
    this.scheduler = build("scheduler");
    this.runner = args.runner ? build("runner") : undefined;
    this.refs = { scheduler: this.scheduler.ref, ...(this.runner ? { runner: this.runner.ref } : {}) };
    this.registerOutputs({ ...this.refs });
  }
}
