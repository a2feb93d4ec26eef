import { describe, expect, it, vi } from "vitest";
import { afterFile, runAfterFileCleanups } from "./after-file.js";

describe("afterFile outside a vitest run (a bench reusing the fixtures)", () => {
  it("holds cleanups until runAfterFileCleanups, then runs them last first, past one that fails", async () => {
    const saved = process.env.VITEST;
    delete process.env.VITEST;
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const order: string[] = [];
      afterFile(() => order.push("first"));
      afterFile(() => {
        throw new Error("boom");
      });
      afterFile(async () => order.push("last"));
      expect(order).toEqual([]);
      await runAfterFileCleanups();
      expect(order).toEqual(["last", "first"]);
      expect(error).toHaveBeenCalledWith("cleanup failed: boom");
      // Emptied: a second call runs nothing again.
      await runAfterFileCleanups();
      expect(order).toEqual(["last", "first"]);
    } finally {
      process.env.VITEST = saved;
      error.mockRestore();
    }
  });
});
