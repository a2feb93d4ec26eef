import { randomBytes } from "node:crypto";
import { localstackSpec, localstackUrlHost, postgresSpec, postgresUrl } from "../../../infra/containers.js";
import { DEFAULT_LOCALSTACK_IMAGE } from "../../../services/contracts/names.js";
import { migrate } from "../../../services/db/migrate.js";
import { createPool } from "../../../services/db/pool.js";
import { freePort } from "../../../services/embedded/postgres.js";
import { afterFile } from "../../helpers/after-file.js";
import type { TestDatabase } from "../../helpers/database.js";
import { docker, type TestDocker, untilHealthy } from "./docker.js";
import { runSpec } from "./specs.js";

/** The stacks' Postgres and LocalStack containers, started for a file and removed with its Docker objects. */
export interface DataContainers {
  /** The Postgres container's database, migrated, published on 127.0.0.1 (as `pulumi up` leaves it). */
  readonly db: TestDatabase;
  /** The containers' names (for `docker stats`, `docker restart`). */
  readonly postgres: string;
  readonly localstack: string;
  /** LocalStack's SQS endpoint from this machine (http://127.0.0.1:<port>). */
  readonly sqsEndpoint: string;
}

/**
 * Starts Postgres and LocalStack as the program declares them (infra/containers.ts: the real Docker engine,
 * the stand-in images at the tags the stacks name) on a network of the file's own, published on
 * 127.0.0.1, and migrates the schema, as `pulumi up` does; `profile` picks the host LocalStack names in
 * its queue URLs.
 */
export async function startDataContainers(
  testDocker: TestDocker,
  profile: "dev" | "minikube",
): Promise<DataContainers> {
  const password = randomBytes(12).toString("hex");
  const network = testDocker.name("network");
  const ports = { postgres: await freePort(), localstack: await freePort() };
  const postgres = postgresSpec(password);
  const localstack = localstackSpec(localstackUrlHost(profile, ports.localstack));
  await docker(["network", "create", ...testDocker.labelArgs, network]);
  for (const [spec, image, port] of [
    [postgres, "postgres:16.9-bookworm", ports.postgres],
    [localstack, DEFAULT_LOCALSTACK_IMAGE, ports.localstack],
  ] as const) {
    const volume = testDocker.name(`${spec.name}-data`);
    await docker(["volume", "create", ...testDocker.labelArgs, volume]);
    await runSpec(spec, {
      name: testDocker.name(spec.name),
      image,
      network,
      labels: testDocker.labelArgs,
      volume,
      publish: `127.0.0.1:${port}`,
    });
  }
  const names = { postgres: testDocker.name(postgres.name), localstack: testDocker.name(localstack.name) };
  await Promise.all([untilHealthy(names.postgres), untilHealthy(names.localstack, 180_000)]);
  const url = postgresUrl("127.0.0.1", ports.postgres, password);
  await migrate(url);
  const pool = createPool(url, { max: 10 });
  afterFile(() => pool.end());
  return { db: { url, pool }, ...names, sqsEndpoint: `http://127.0.0.1:${ports.localstack}` };
}
