import { defineConfig } from "vitest/config";
import { scaled } from "./test/helpers/wait.js";

/**
 * `npm test`: every file under test/ ending in .test.ts. KH_TEST_GUARD=<file> instead runs one file of
 * test/guard/ (kept out of the normal run: each one fails on purpose, and .ci/run checks that vitest
 * reports it as a failure).
 */
const guard = process.env.KH_TEST_GUARD;

export default defineConfig({
  test: {
    include: guard ? [`test/guard/${guard}`] : ["test/**/*.test.ts"],
    // The real-engine tier runs apart: npm run test:real (vitest.real.config.ts).
    exclude: ["test/real/**", "**/node_modules/**"],
    globalSetup: ["test/helpers/global-setup.ts"],
    // Every file gets its own database and processes; 2 cores in CI, so keep the fan-out modest.
    pool: "forks",
    maxWorkers: 2,
    // Deadlines scale with TEST_TIME_FACTOR (test/helpers/wait.ts), like every deadline in the suite.
    testTimeout: scaled(30_000),
    hookTimeout: scaled(60_000),
    teardownTimeout: scaled(30_000),
  },
});
