import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { RESTORE_ENV } from "../../infra/drift.js";
import { DOCKER, ENV, STACK_LABEL } from "../../services/contracts/names.js";
import { EXECUTOR_SETTINGS } from "../../services/contracts/settings.js";
import { createTempDir } from "../helpers/temp.js";
import {
  COMMAND,
  COMMON_REGISTRATIONS,
  CONTAINER,
  find,
  IMAGE,
  inputs,
  invokedCommands,
  type ProgramRun,
  plainOccurrences,
  type Registration,
  runProgram,
  waitsFor,
} from "./mocks.js";

// Stack `local` with a password from config (one that needs URL-encoding), a generated encryption key,
// and an app checkout.
const DB_PASSWORD = "from-config:pw@4f9a/x";
const DB_PASSWORD_IN_URL = "from-config%3Apw%404f9a%2Fx";
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

/** A container's uploaded files by path (values unwrapped). */
function filesOf(r: Registration): Record<string, Record<string, string>> {
  const uploads = (inputs(r).uploads ?? []) as { file: string }[];
  return Object.fromEntries(uploads.map(({ file, ...rest }) => [file, rest]));
}

/** What `docker inspect` shows of a container: every input but the uploaded files' content. */
function inspected(r: Registration): unknown {
  const { uploads, ...rest } = inputs(r);
  return { ...rest, uploads: (uploads ?? []).map(({ content: _, ...file }: { content: string }) => file) };
}

describe("stack local: resources", () => {
  it("declares exactly the local set: dispatcher and executor containers, no runner image, no Kubernetes", () => {
    const declared = run.registrations.map((r) => `${r.type} ${r.name}`).sort();
    expect(declared).toEqual(
      [
        ...COMMON_REGISTRATIONS,
        "keeperhub:infra:AppDev app",
        "docker:index/remoteImage:RemoteImage app-image",
        `${CONTAINER} app-app`,
        "keeperhub:infra:LocalServices workers",
        `${CONTAINER} workers-dispatcher`,
        `${CONTAINER} workers-executor`,
      ].sort(),
    );
    expect(run.registrations.filter((r) => /kubernetes|minikube|runner/.test(`${r.type} ${r.name}`))).toEqual(
      [],
    );
  });

  it("runs `khctl doctor --profile dev` as the preflight, with the configured ports, then checks the queues", () => {
    expect(invokedCommands(run)).toEqual(["doctor", "queue check"]);
    expect(run.invokes[0]?.inputs.command).toMatch(
      /doctor --profile dev --stack local --postgres-port 5433 --localstack-port 4566 --app-port 3100 --localstack-image localstack\/localstack:4\.14\.0 --json \|\| true$/,
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
        [ENV.databaseUrlFile]: "/run/secrets/keeperhub/DATABASE_URL",
        [ENV.awsEndpointUrl]: `http://${DOCKER.localstack}:4566`,
        [ENV.sqsQueueUrl]: run.outputs.queueUrl,
        [ENV.logLevel]: "debug",
      });
      expect(filesOf(worker)["/run/secrets/keeperhub/DATABASE_URL"]).toEqual({
        content: `postgres://keeperhub:${DB_PASSWORD_IN_URL}@${DOCKER.postgres}:5432/keeperhub`,
        // The image's user (1000) alone may read it.
        owner: "1000",
        group: "1000",
        permissions: "0400",
      });
    }
    // Only the executor runs workflows, so only it gets the integration key.
    expect(envOf(executor)[ENV.integrationEncryptionKeyFile]).toBe(
      "/run/secrets/keeperhub/INTEGRATION_ENCRYPTION_KEY",
    );
    expect(filesOf(executor)["/run/secrets/keeperhub/INTEGRATION_ENCRYPTION_KEY"]?.content).toBe(
      GENERATED_KEY,
    );
    expect(Object.keys(filesOf(dispatcher))).toEqual(["/run/secrets/keeperhub/DATABASE_URL"]);
  });

  it("gives the workers time to finish their runs when Docker stops them (more than the executor's shutdown timeout)", () => {
    const shutdown = EXECUTOR_SETTINGS.shutdownTimeoutSeconds.default;
    for (const name of ["workers-dispatcher", "workers-executor"]) {
      const worker = inputs(find(run, CONTAINER, name));
      expect(worker.stopSignal, name).toBe("SIGTERM");
      // docker stop / restart / a stopping Docker wait this long before SIGKILL (Docker's default is 10 s).
      expect(worker.stopTimeout, name).toBeGreaterThan(shutdown);
      expect(worker.destroyGraceSeconds, name).toBe(worker.stopTimeout);
    }
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
  it("reads the machine (the preflight first) before it declares anything, so no provider runs before it", () => {
    const firstRegistration = run.events.findIndex((e) => e.kind === "register");
    expect(run.events[0]).toMatchObject({ kind: "invoke" });
    expect(invokedCommands(run)[0]).toBe("doctor");
    expect(run.events.slice(firstRegistration).filter((e) => e.kind === "invoke")).toEqual([]);
    expect(run.registrations.length).toBeGreaterThan(10);
  });

  it("sets the password in the running database before anything connects with it", () => {
    const password = find(run, COMMAND, "containers-postgres-password");
    expect(inputs(password).create).toMatch(/docker exec -i -e KEEPERHUB_DB_PASSWORD keeperhub-db psql/);
    // ... and the container's password file then holds the new one (owner and mode kept).
    expect(inputs(password).create).toContain(
      `docker exec -i -e KEEPERHUB_DB_PASSWORD keeperhub-db sh -c 'mkdir -p /run/secrets/keeperhub && (umask 0377 && printf '\\''%s'\\'' "$KEEPERHUB_DB_PASSWORD" > /run/secrets/keeperhub/POSTGRES_PASSWORD) && chown 999:999 /run/secrets/keeperhub/POSTGRES_PASSWORD'`,
    );
    expect(inputs(password).environment.KEEPERHUB_DB_PASSWORD).toBe(DB_PASSWORD);
    expect(waitsFor(run, password, find(run, CONTAINER, "containers-postgres"))).toBe(true);
    for (const consumer of [
      find(run, COMMAND, "migrations-migrate"),
      find(run, CONTAINER, "workers-executor"),
      find(run, CONTAINER, "app-app"),
    ]) {
      expect(waitsFor(run, consumer, password), consumer.name).toBe(true);
    }
    // POSTGRES_PASSWORD applies only at initdb: a new password must not replace the container.
    expect(find(run, CONTAINER, "containers-postgres").ignoreChanges).toEqual(["envs", "uploads"]);
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
      for (const image of [
        find(run, IMAGE, "images-scheduler"),
        find(run, COMMAND, "images-scheduler-cleanup"),
      ]) {
        // Destroy runs in reverse: the containers go before the image is removed.
        expect(waitsFor(run, find(run, CONTAINER, worker), image), `${worker} → ${image.name}`).toBe(true);
      }
    }
  });
});

describe("stack local: images", () => {
  it("builds the scheduler image for this machine's platform, and removes it on destroy or when its tag is replaced", () => {
    const images = run.outputs.images as { scheduler: string; runner?: string };
    expect(images).toEqual({ scheduler: expect.stringMatching(/^keeperhub-scheduler:[0-9a-f]{16}$/) });
    const build = inputs(find(run, IMAGE, "images-scheduler"));
    expect(build.build.platform).toMatch(/^linux\/(amd64|arm64)$/);
    const cleanup = inputs(find(run, COMMAND, "images-scheduler-cleanup"));
    expect(cleanup.create).toBeUndefined();
    expect(cleanup.delete).toBe(
      `if docker image inspect ${images.scheduler} >/dev/null 2>&1; then docker image rm ${images.scheduler}; fi`,
    );
    expect(cleanup.triggers).toEqual([images.scheduler]);
  });
});

describe("stack local: the queues", () => {
  it("knows the queue URLs from the config (LocalStack's path strategy, named for the host), not from a command", () => {
    expect(run.outputs.queueUrl).toBe(
      "http://localhost:4566/queue/us-east-1/000000000000/keeperhub-workflow-queue",
    );
    expect(run.outputs.dlqUrl).toBe(
      "http://localhost:4566/queue/us-east-1/000000000000/keeperhub-workflow-dlq",
    );
    expect(inputs(find(run, CONTAINER, "containers-localstack")).envs).toContain(
      "LOCALSTACK_HOST=localhost:4566",
    );
  });

  it("keeps the stored restore token while the queues exist, so an unchanged machine gives no changes", () => {
    const ensure = find(run, COMMAND, "queue-ensure");
    expect(inputs(ensure).environment[RESTORE_ENV]).toBe("created");
    expect(ensure.ignoreChanges).toEqual([`environment.${RESTORE_ENV}`]);
    // A new LocalStack container (a new id) has no queues either.
    expect(inputs(ensure).triggers).toEqual(["containers-localstack-id"]);
  });
});

describe("stack local: secrets", () => {
  it("gives LocalStack no auth token when none is set (4.14.0 needs none)", () => {
    expect(Object.keys(envOf(find(run, CONTAINER, "containers-localstack")))).not.toContain(
      "LOCALSTACK_AUTH_TOKEN",
    );
  });

  it("shows no secret in what `docker inspect` shows: secrets are files (*_FILE), read by the container's user only", () => {
    const containers = run.registrations.filter((r) => r.type === CONTAINER);
    for (const container of containers) {
      const shown = JSON.stringify(inspected(container));
      expect(shown, container.name).not.toContain(DB_PASSWORD_IN_URL);
      expect(shown, container.name).not.toContain(DB_PASSWORD);
      expect(shown, container.name).not.toContain(GENERATED_KEY);
    }
    const postgres = find(run, CONTAINER, "containers-postgres");
    expect(envOf(postgres).POSTGRES_PASSWORD_FILE).toBe("/run/secrets/keeperhub/POSTGRES_PASSWORD");
    expect(filesOf(postgres)["/run/secrets/keeperhub/POSTGRES_PASSWORD"]).toEqual({
      content: DB_PASSWORD,
      owner: "999",
      group: "999",
      permissions: "0400",
    });
    // The app knows no *_FILE: its shell reads the files into its env before the app's command runs.
    const app = find(run, CONTAINER, "app-app");
    expect(inputs(app).command).toEqual([
      "sh",
      "-c",
      'export DATABASE_URL="$(cat "$DATABASE_URL_FILE")" && unset DATABASE_URL_FILE && export INTEGRATION_ENCRYPTION_KEY="$(cat "$INTEGRATION_ENCRYPTION_KEY_FILE")" && unset INTEGRATION_ENCRYPTION_KEY_FILE && npm install && npm run dev',
    ]);
    // Postgres's entrypoint is started the same way: one that reads POSTGRES_PASSWORD alone works too, and
    // the official one, which refuses the variable and its _FILE twin both set, sees only the variable.
    expect(inputs(postgres).command).toEqual([
      "sh",
      "-c",
      'export POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" && unset POSTGRES_PASSWORD_FILE && exec docker-entrypoint.sh postgres',
    ]);
    expect(Object.values(filesOf(app)).map((file) => file.owner)).toEqual(["0", "0"]);
  });

  it("keeps the generated password and key in the stack while the config sets them, so unsetting returns to them", () => {
    // dbPassword is set here: the generated one is declared all the same (and not used).
    expect(find(run, "random:index/randomPassword:RandomPassword", "secrets-db-password")).toBeDefined();
    expect(
      filesOf(find(run, CONTAINER, "containers-postgres"))["/run/secrets/keeperhub/POSTGRES_PASSWORD"]
        ?.content,
    ).toBe(DB_PASSWORD);
  });

  it("never sends a secret as a plain value, in container env or anywhere else", () => {
    const leaks = run.registrations.flatMap((r) =>
      plainOccurrences(r.raw, [DB_PASSWORD, GENERATED_KEY]).map((p) => `${r.name}: ${p}`),
    );
    expect(leaks).toEqual([]);
    expect(JSON.stringify(inputs(find(run, CONTAINER, "containers-postgres")))).toContain(DB_PASSWORD);
  });

  it("exports the database URL (URL-encoded) as a secret, and only the outputs of the dev profile", async () => {
    expect(await pulumi.isSecret(run.exports.databaseUrl as pulumi.Output<string>)).toBe(true);
    expect(run.outputs.databaseUrl).toBe(
      `postgres://keeperhub:${DB_PASSWORD_IN_URL}@localhost:5433/keeperhub`,
    );
    // No undefined outputs (Pulumi warns about each on every preview): no namespace or context here.
    expect(Object.keys(run.outputs).sort()).toEqual(
      [
        "profile",
        "appUrl",
        "databaseUrl",
        "queueUrl",
        "dlqUrl",
        "awsEndpointUrl",
        "images",
        "nextCommands",
        "consoleUrl",
      ].sort(),
    );
    expect(Object.values(run.outputs).filter((value) => value === undefined)).toEqual([]);
  });

  it("says how to open the web console: khctl console on the host, with the stack's settings, at 54332", () => {
    expect(run.outputs.consoleUrl).toBe("http://127.0.0.1:54332");
    const commands = run.outputs.nextCommands as string[];
    const exports = commands.findIndex((c) => c.startsWith("export DATABASE_URL="));
    const consoleCommand = commands.indexOf("npx khctl console --profile dev");
    expect(exports).toBeGreaterThanOrEqual(0);
    expect(consoleCommand).toBeGreaterThan(exports);
  });
});
