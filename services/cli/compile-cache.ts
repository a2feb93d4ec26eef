import module from "node:module";
import os from "node:os";
import path from "node:path";

/**
 * Turns on V8's compile cache for this process (Node 22.1+): the code V8 compiles for khctl's modules is kept
 * on disk and reused by the next start, so a runner or a CLI call compiles little. Kept where the user's
 * caches live (XDG_CACHE_HOME, else ~/.cache), under keeperhub/, not in Node's default spot in the shared
 * temp dir, which another user on the machine could own or fill. NODE_COMPILE_CACHE, when set, is Node's own
 * and already on at start (the images set it to the read-only cache they carry, made at build time);
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that cannot be written only means no cache.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return;
  module.enableCompileCache(compileCacheDir(env));
}

/** $XDG_CACHE_HOME/keeperhub/node-compile-cache, else ~/.cache/keeperhub/node-compile-cache. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(cacheHome, "keeperhub", "node-compile-cache");
}
