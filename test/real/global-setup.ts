import { checkDocker, checkKubeNode, checkKubernetes, checkRegistry } from "./engines.js";

/**
 * The real tier needs both engines, the real worker node and the registry binary; it fails at once, naming each one missing and
 * how to start it.
 */
export async function setup(): Promise<void> {
  const checks = [checkKubernetes().then(checkKubeNode), checkDocker(), checkRegistry()];
  const problems = (await Promise.allSettled(checks)).flatMap((result) =>
    result.status === "rejected" ? [(result.reason as Error).message] : [],
  );
  if (problems.length > 0) throw new Error(`the real-engine tier cannot run:\n  ${problems.join("\n  ")}`);
}
