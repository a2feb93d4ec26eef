import { newId } from "../../../services/core/ids.js";
import { checkDocker } from "../engines.js";
import { removeLabelled, TEST_DOCKER_RUN_ENV, TEST_RUN_LABEL } from "./docker.js";

/**
 * The run's id for the Docker files (docker.ts labels everything they make with it); at the end, whatever
 * still carries it is removed, should a file not have got to its own clean-up.
 */
let run: string | undefined;

export function setup(): void {
  run = `kh-test-run-${newId().slice(0, 8)}`;
  process.env[TEST_DOCKER_RUN_ENV] = run;
}

export async function teardown(): Promise<void> {
  if (!run) return;
  // Without a Docker engine the tier has already failed, saying so, and nothing of ours can be there.
  const reachable = await checkDocker().then(
    () => true,
    () => false,
  );
  if (reachable) await removeLabelled(`${TEST_RUN_LABEL}=${run}`);
}
