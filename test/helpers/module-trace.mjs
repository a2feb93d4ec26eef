// Preloaded into a khctl process (NODE_OPTIONS=--import=<this file>, MODULE_TRACE_FILE=<path>): appends the
// URL of every module the process loads to MODULE_TRACE_FILE, one a line, so a test can tell which code a
// command ran. Plain JS: the built khctl runs under plain node.
import { appendFileSync } from "node:fs";
import { register, registerHooks } from "node:module";
import { isMainThread } from "node:worker_threads";

let file;

/** Runs in the loader's hooks thread (module.register): where to write. */
export function initialize(data) {
  file = data.file;
}

/** As a synchronous hook (module.registerHooks) it also sees require(); as an async one, the ES loader's. */
export function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}

// In the main thread (not in the hooks thread this file is loaded into again, nor in a worker): install, with
// the in-thread hooks where Node has them (22.15+; module.register is deprecated from Node 26).
if (isMainThread && process.env.MODULE_TRACE_FILE) {
  if (registerHooks) {
    file = process.env.MODULE_TRACE_FILE;
    registerHooks({ load });
  } else {
    register(import.meta.url, { data: { file: process.env.MODULE_TRACE_FILE } });
  }
}
