import { test } from "vitest";

// Fails on purpose (.ci/run checks that vitest reports it): the file throws while loading, as a test file
// does whose set-up (a database, a server) fails, so no test in it runs.
async function setUpThatFails(): Promise<void> {
  throw new Error("this test file fails to load, on purpose");
}
await setUpThatFails();

test("never reached", () => {});
