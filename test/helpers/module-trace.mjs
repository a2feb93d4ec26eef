// Preloaded into a khctl process (NODE_OPTIONS=--import=<this file>, MODULE_TRACE_FILE=<path>): appends the
// URL of every module the process loads through the ES module loader to MODULE_TRACE_FILE, one a line, so a
// test can tell which code a command ran. Plain JS: the built khctl runs under plain node.
import { appendFileSync } from "node:fs";
import { register } from "node:module";
import { isMainThread } from "node:worker_threads";

let file;

/** Runs in the loader's hooks thread: where to write. */
export function initialize(data) {
  file = data.file;
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}

// In the main thread (not in the hooks thread this file is loaded into again, nor in a worker): install.
if (isMainThread && process.env.MODULE_TRACE_FILE) {
  register(import.meta.url, { data: { file: process.env.MODULE_TRACE_FILE } });
}
