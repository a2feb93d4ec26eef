import { expect, test } from "vitest";

// Fails on purpose (.ci/run checks that vitest reports it): every test passes, but an error escapes them.
test("passes, and leaves an unhandled rejection behind", () => {
  setTimeout(() => Promise.reject(new Error("an unhandled rejection, on purpose")), 0);
  expect(1).toBe(1);
});

test("gives the rejection time to surface", async () => {
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(2).toBe(2);
});
