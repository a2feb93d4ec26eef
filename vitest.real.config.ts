import { defineConfig } from "vitest/config";
import { scaled } from "./test/helpers/wait.js";

/**
 * `npm run test:real`: the real-engine tier (test/real/): a real kube-apiserver with its controllers and a
 * fake kubelet, and a real Docker engine, from ../shared/tools (started by .ci/run, or by hand: see
 * test/real/engines.ts). The tier fails, never skips, when an engine is not there.
 */
export default defineConfig({
  test: {
    include: ["test/real/**/*.test.ts"],
    // After the engine check: the kubernetes Service for the real node's pods (no kube-proxy there), the
    // Docker tier's sweep of its own leftovers, and the kwok bridge that runs runner pods' commands.
    globalSetup: [
      "test/helpers/global-setup.ts",
      "test/real/global-setup.ts",
      "test/real/node/api-service-setup.ts",
      "test/real/docker/global-setup.ts",
      "test/real/kube/bridge-setup.ts",
    ],
    // The engines are shared by every file: one file at a time.
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: scaled(120_000),
    hookTimeout: scaled(300_000),
    teardownTimeout: scaled(60_000),
  },
});
