import { checkDocker, checkKubeNode, checkKubernetes } from "./engines.js";

/**
 * The real tier needs both engines and the real worker node; it fails at once, naming each one missing and
 * how to start it.
 */
export async function setup(): Promise<void> {
  const checks = [checkKubernetes().then(checkKubeNode), checkDocker()];
  const problems = (await Promise.allSettled(checks)).flatMap((result) =>
    result.status === "rejected" ? [(result.reason as Error).message] : [],
  );
  if (problems.length > 0) throw new Error(`the real-engine tier cannot run:\n  ${problems.join("\n  ")}`);
}
