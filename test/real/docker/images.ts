import path from "node:path";
import { DEFAULT_NODE_IMAGE } from "../../../infra/config.js";
import { DOCKERFILE, hostPlatform, IMAGE_TARGETS, type ImageKind } from "../../../infra/images.js";
import { IMAGES } from "../../../services/contracts/names.js";
import { docker, type TestDocker } from "./docker.js";

/** The repository root: the build context the Pulumi program builds from. */
export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..", "..");

/** A cold build (npm ci of every dependency, twice, and apt-get) takes minutes on 2 busy cores. */
export const BUILD_TIMEOUT_MS = 900_000;

export interface BuiltImage {
  /** `keeperhub-<kind>:<the file's id>`: a tag of its own, never a content tag a stack could have built. */
  readonly ref: string;
  readonly id: string;
  /** BuildKit's plain progress output. */
  readonly log: string;
}

/**
 * Builds a service image from services/Dockerfile as the Pulumi program does (infra/images.ts: BuildKit, the
 * target, NODE_IMAGE, this machine's platform), from `context` (default the repository root), tagged and
 * labelled as the file's. BuildKit's cache makes a second build of unchanged inputs take seconds.
 */
export async function buildServiceImage(
  testDocker: TestDocker,
  kind: ImageKind,
  options: { context?: string; tag?: string } = {},
): Promise<BuiltImage> {
  const context = options.context ?? REPO_ROOT;
  const ref = `${IMAGES[kind]}:${options.tag ?? testDocker.id}`;
  const { stderr } = await docker(
    [
      "build",
      "--progress=plain",
      "--file",
      path.join(context, DOCKERFILE),
      "--target",
      IMAGE_TARGETS[kind],
      "--build-arg",
      `NODE_IMAGE=${DEFAULT_NODE_IMAGE}`,
      "--platform",
      hostPlatform(),
      "--tag",
      ref,
      ...testDocker.labelArgs,
      context,
    ],
    { timeoutMs: BUILD_TIMEOUT_MS },
  );
  const id = (await docker(["image", "inspect", "--format", "{{.Id}}", ref])).stdout.trim();
  return { ref, id, log: stderr };
}

/**
 * The images a build resolved from a registry reference, from BuildKit's plain progress output: each base
 * image (`load metadata for …`) and any frontend image a `# syntax=` line names (`resolve image config for …`).
 */
export function resolvedImages(log: string): string[] {
  const refs = [
    ...log.matchAll(/^#\d+ (?:\[internal\] load metadata for|resolve image config for) (\S+)$/gm),
  ];
  return [...new Set(refs.map((m) => m[1] as string))].sort();
}

/** `docker.io/library/node:24…` for `node:24…`: how BuildKit (and containerd) name an image reference. */
export { qualifiedRef as qualifiedImage } from "../../../infra/cluster/image-loader.js";
