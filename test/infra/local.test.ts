import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { DOCKER, ENV, STACK_LABEL } from "../../services/contracts/names.js";
import { createTempDir } from "../helpers/temp.js";
import {
  COMMAND,
  COMMON_REGISTRATIONS,
  CONTAINER,
  find,
  inputs,
  notWaitingFor,
  type ProgramRun,
  plainOccurrences,
  type Registration,
  runProgram,
  waitsFor,
} from "./mocks.js";

// Stack `local` with a password from config, a generated encryption key, and an app checkout.
const DB_PASSWORD = "from-config-pw-4f9a";
const appCheckout = await createTempDir("kh-app");
const CONFIG = {
  "keeperhub:dbPassword": DB_PASSWORD,
  "keeperhub:appCheckoutPath": appCheckout,
  "keeperhub:appPort": "3100",
  "keeperhub:logLevel": "debug",
};
// The mocks' RandomBytes hex (see mocks.ts).
const GENERATED_KEY = "9f".repeat(32);

let run: ProgramRun;

beforeAll(async () => {
  run = await runProgram("local", CONFIG, ["keeperhub:dbPassword"]);
});

/** `NAME=value` entries of a container, as a map (values unwrapped). */
function envOf(r: Registration): Record<string, string> {
  return Object.fromEntries(
    (inputs(r).envs as string[]).map((entry) => [
      entry.slice(0, entry.indexOf("=")),
      entry.slice(entry.indexOf("=") + 1),
    ]),
  );
}

describe("stack local: resources", () => {
  it("declares exactly the local set: dispatcher and executor containers, no Kubernetes at all", () => {
    const declared = run.registrations.map((r) => `${r.type} ${r.name}`).sort();
    expect(declared).toEqual(
      [
        ...COMMON_REGISTRATIONS,
        "random:index/randomBytes:RandomBytes secrets-encryption-key",
        "keeperhub:infra:AppDev app",
        "docker:index/remoteImage:RemoteImage app-image",
        `${CONTAINER} app-app`,
        "keeperhub:infra:LocalServices workers",
        `${CONTAINER} workers-dispatcher`,
        `${CONTAINER} workers-executor`,
      ].sort(),
    );
    expect(run.registrations.filter((r) => /kubernetes|minikube/.test(`${r.type} ${r.name}`))).toEqual([]);
  });

  it("runs `khctl doctor --profile dev` as the preflight, with the configured ports", () => {
    expect(inputs(find(run, COMMAND, "preflight-doctor")).create).toMatch(
      /doctor --profile dev --stack local --postgres-port 5433 --localstack-port 4566 --app-port 3100$/,
    );
  });

  it("creates network keeperhub-network and puts every container on it, labelled with the stack", () => {
    expect(inputs(find(run, "docker:index/network:Network", "containers-network")).name).toBe(DOCKER.network);
    for (const container of run.registrations.filter((r) => r.type === CONTAINER)) {
      expect(inputs(container).networksAdvanced[0].name, container.name).toBe(DOCKER.network);
      expect(inputs(container).labels, container.name).toContainEqual({ label: STACK_LABEL, value: "local" });
    }
  });

  it("runs the dispatcher loop and the executor from the scheduler image, with the queue and network URLs", () => {
    const images = run.outputs.images as { scheduler: string };
    const dispatcher = find(run, CONTAINER, "workers-dispatcher");
    const executor = find(run, CONTAINER, "workers-executor");
    expect(inputs(dispatcher)).toMatchObject({ name: DOCKER.dispatcher, command: ["dispatch", "--loop"] });
    expect(inputs(executor)).toMatchObject({ name: DOCKER.executor, command: ["executor"] });
    for (const worker of [dispatcher, executor]) {
      expect(inputs(worker).image).toBe(images.scheduler);
      expect(envOf(worker)).toMatchObject({
        [ENV.databaseUrl]: `postgres://keeperhub:${DB_PASSWORD}@${DOCKER.postgres}:5432/keeperhub`,
        [ENV.awsEndpointUrl]: `http://${DOCKER.localstack}:4566`,
        [ENV.sqsQueueUrl]: run.outputs.queueUrl,
        [ENV.logLevel]: "debug",
      });
    }
    // Only the executor runs workflows, so only it gets the integration key.
    expect(envOf(executor)[ENV.integrationEncryptionKey]).toBe(GENERATED_KEY);
    expect(envOf(dispatcher)[ENV.integrationEncryptionKey]).toBeUndefined();
  });

  it("runs the app from the checkout on the configured port", () => {
    const app = inputs(find(run, CONTAINER, "app-app"));
    expect(app.name).toBe(DOCKER.app);
    expect(app.ports).toEqual([{ internal: 3000, external: 3100 }]);
    expect(app.volumes).toEqual([{ hostPath: appCheckout, containerPath: "/app" }]);
    expect(inputs(find(run, "docker:index/remoteImage:RemoteImage", "app-image")).name).toBe(
      "node:24.22.3-bookworm-slim",
    );
    expect(run.outputs.appUrl).toBe("http://localhost:3100");
  });

  it("re-runs the migrations when a migration file changes (a hash of the folder is a trigger)", () => {
    const migrate = inputs(find(run, COMMAND, "migrations-migrate"));
    expect(migrate.create).toMatch(/services\/cli\/main\.ts migrate$/);
    expect(migrate.triggers[0]).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("stack local: order", () => {
  it("runs the preflight before every other resource", () => {
    const preflight = find(run, COMMAND, "preflight-doctor");
    expect(notWaitingFor(run, preflight)).toEqual([]);
  });

  it("starts the consumers (dispatcher, executor, app) after the queue, the migrations and healthy containers", () => {
    const before = [
      find(run, COMMAND, "queue-ensure"),
      find(run, COMMAND, "migrations-migrate"),
      find(run, CONTAINER, "containers-postgres"),
      find(run, CONTAINER, "containers-localstack"),
    ];
    for (const consumer of ["workers-dispatcher", "workers-executor", "app-app"]) {
      for (const dependency of before) {
        expect(
          waitsFor(run, find(run, CONTAINER, consumer), dependency),
          `${consumer} → ${dependency.name}`,
        ).toBe(true);
      }
    }
    for (const worker of ["workers-dispatcher", "workers-executor"]) {
      expect(
        waitsFor(
          run,
          find(run, CONTAINER, worker),
          find(run, "docker:index/image:Image", "images-scheduler"),
        ),
      ).toBe(true);
    }
  });
});

describe("stack local: secrets", () => {
  it("never sends a secret as a plain value, in container env or anywhere else", () => {
    const leaks = run.registrations.flatMap((r) =>
      plainOccurrences(r.raw, [DB_PASSWORD, GENERATED_KEY]).map((p) => `${r.name}: ${p}`),
    );
    expect(leaks).toEqual([]);
    expect(JSON.stringify(inputs(find(run, CONTAINER, "containers-postgres")))).toContain(DB_PASSWORD);
  });

  it("exports the database URL as a secret and no namespace or context", async () => {
    expect(await pulumi.isSecret(run.exports.databaseUrl as pulumi.Output<string>)).toBe(true);
    expect(run.outputs).toMatchObject({ profile: "dev", namespace: undefined, kubeContext: undefined });
    expect(run.outputs.databaseUrl).toBe(`postgres://keeperhub:${DB_PASSWORD}@localhost:5433/keeperhub`);
  });
});
