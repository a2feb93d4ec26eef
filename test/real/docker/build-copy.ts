import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { buildInputs, type ImageKind, imageTag } from "../../../infra/images.js";
import { newId } from "../../../services/core/ids.js";
import { createTempDir } from "../../helpers/temp.js";
import type { TestDocker } from "./docker.js";
import { buildServiceImage, REPO_ROOT } from "./images.js";

/**
 * A copy of the service images' build inputs (infra/images.ts buildInputs), so a test or a bench can change
 * a line of a service and build again without touching the checkout. A marker file of the copy's own
 * keeps its content tags apart from any a stack built from the checkout.
 */

export const KINDS: readonly ImageKind[] = ["scheduler", "runner"];

/** A copy of everything the image build reads, plus the copy's marker; resolves its root. */
export async function copyBuildInputs(prefix: string): Promise<string> {
  const root = await createTempDir(prefix);
  for (const file of buildInputs(REPO_ROOT)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await cp(path.join(REPO_ROOT, file), path.join(root, file));
  }
  await writeFile(path.join(root, "services", "real-tier-copy.txt"), `${newId()}\n`);
  return root;
}

/** Replaces `line` in `file` of the copy (one line: the change a developer makes). */
export async function changeLine(
  root: string,
  file: string,
  line: string,
  replacement: string,
): Promise<void> {
  const source = await readFile(path.join(root, file), "utf8");
  if (!source.includes(line)) throw new Error(`${file} no longer has ${line}`);
  await writeFile(path.join(root, file), source.replace(line, replacement));
}

/** The content tags of the copy's images, as the program computes them. */
export function contentTags(root: string, nodeImage: string): Record<ImageKind, string> {
  return Object.fromEntries(KINDS.map((kind) => [kind, imageTag(kind, nodeImage, root)])) as Record<
    ImageKind,
    string
  >;
}

/**
 * Both service images built from the copy at `root` under its content tags (in parallel, as the program
 * builds them); resolves their local references. One `testDocker` per file or bench: its labels are in the
 * image, so the same inputs give the same image.
 */
export async function buildCopyImages(
  testDocker: TestDocker,
  root: string,
  tags: Record<ImageKind, string>,
): Promise<Record<ImageKind, string>> {
  const built = await Promise.all(
    KINDS.map((kind) => buildServiceImage(testDocker, kind, { context: root, tag: tags[kind] })),
  );
  return { scheduler: built[0]?.ref as string, runner: built[1]?.ref as string };
}
