import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/** Files under `dir` (relative to `root`, `/`-separated, sorted), skipping names `skip` rejects. */
export function listFiles(
  root: string,
  dir: string,
  skip: (name: string) => boolean = () => false,
): string[] {
  const out: string[] = [];
  const walk = (relative: string): void => {
    for (const entry of readdirSync(path.join(root, relative), { withFileTypes: true })) {
      if (skip(entry.name)) continue;
      const child = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * A short content hash of files (path and bytes of each, in sorted order) plus extra strings.
 * The same inputs always give the same hash, so it serves as an image tag or a re-run trigger.
 */
export function hashFiles(root: string, files: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort()) {
    if (!statSync(path.join(root, file)).isFile()) continue;
    hash.update(`${file}\0`);
    hash.update(readFileSync(path.join(root, file)));
    hash.update("\0");
  }
  for (const value of extra) hash.update(`${value}\0`);
  return hash.digest("hex").slice(0, 16);
}
