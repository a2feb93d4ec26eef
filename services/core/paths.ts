import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package root, found from this file whether it runs from services/ (tsx) or dist/services/ (compiled),
 * so assets such as the SQL migrations are read from one place.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("package.json not found above services/core");
    dir = parent;
  }
  return dir;
}
