import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ENV } from "../contracts/names.js";
import { packageRoot } from "../core/paths.js";

/**
 * Where khctl dev keeps its data. Each checkout has its own data dir, so two clones (or a clone and a
 * worktree) never share a database by accident: `<base>/<checkout folder name>-<hash of its path>`. The
 * base is, as root, /var/tmp/keeperhub-hybrid (the embedded server runs as the `postgres` user, which
 * cannot enter root's home directory), else $XDG_DATA_HOME/keeperhub-hybrid (~/.local/share/…).
 * KH_DATA_DIR overrides it all.
 */

export function dataBaseDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return "/var/tmp/keeperhub-hybrid";
  const xdg = env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(xdg, "keeperhub-hybrid");
}

/** `<folder name>-<8 hex digits of the checkout's real path>`: readable, and unique per checkout. */
export function checkoutId(root: string = packageRoot()): string {
  let real = root;
  try {
    real = realpathSync(root);
  } catch {}
  const hash = createHash("sha256").update(real).digest("hex").slice(0, 8);
  return `${path.basename(real).replace(/[^A-Za-z0-9._-]/g, "_")}-${hash}`;
}

/** KH_DATA_DIR when set, else this checkout's own data dir under dataBaseDir(). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[ENV.dataDir];
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(dataBaseDir(env), checkoutId());
}
