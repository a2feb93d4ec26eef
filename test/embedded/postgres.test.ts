import { describe, expect, it } from "vitest";
import { startEmbeddedPostgres, startFailure } from "../../services/embedded/postgres.js";
import { createTempDir } from "../helpers/temp.js";

const root = await createTempDir("kh-embedded");

describe("startEmbeddedPostgres", () => {
  it("says why a second server on the same data directory cannot start", async () => {
    const dataDir = `${root}/cluster`;
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toThrow(
        /^Postgres did not start in .*\/cluster: lock file "postmaster.pid" already exists \(Is another postmaster/,
      );
    } finally {
      await first.stop();
    }
  });

  it("startFailure prefers the server's FATAL line and hint over what was thrown", () => {
    const lines = ["LOG:  starting", "FATAL:  could not bind to port", "HINT:  Is another server running?"];
    expect(startFailure(lines, undefined)).toBe("could not bind to port (Is another server running?)");
    expect(startFailure(["LOG:  something"], new Error("boom"))).toBe("boom");
    expect(startFailure([], undefined)).toBe("no reason given");
  });
});
