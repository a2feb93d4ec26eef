import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
  doctorArgs,
  PreflightError,
  parseDoctorReport,
  preflightFailure,
  preflightWarnings,
} from "../../infra/preflight.js";
import { invokedCommands, PASSING_DOCTOR, runProgram } from "./mocks.js";

const ARGS = {
  profile: "minikube",
  stack: "hybrid",
  ports: { postgres: 5433, localstack: 4566, app: 3000 },
  appEnabled: false,
  localstack: { image: "localstack/localstack:4.14.0", authTokenSet: false },
} as const;

/** What `khctl doctor --json` prints with the Docker daemon down (its checks, as services/doctor makes them). */
const DOCKER_DOWN = JSON.stringify({
  profile: "minikube",
  stack: "hybrid",
  ok: false,
  checks: [
    {
      name: "docker",
      ok: false,
      required: true,
      message: "Docker is not reachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
      fix: "start Docker (Docker Desktop, or `sudo systemctl start docker`) and check that `docker info` works without sudo",
    },
    { name: "minikube", ok: true, required: true, message: "minikube v1.36.0 is installed" },
    { name: "port:5433", ok: true, required: true, message: "port 5433 (postgres) is free" },
  ],
});

describe("the preflight's report", () => {
  it("passes when every required check passed", () => {
    expect(preflightFailure(parseDoctorReport(PASSING_DOCTOR, ""), ARGS)).toBeUndefined();
  });

  it("lists each failed check with the doctor's one-line fix, and says nothing changed", () => {
    const message = preflightFailure(parseDoctorReport(DOCKER_DOWN, ""), ARGS);
    expect(message?.split("\n")).toEqual([
      "preflight failed (khctl doctor), nothing was changed:",
      "  docker: Docker is not reachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
      "    fix: start Docker (Docker Desktop, or `sudo systemctl start docker`) and check that `docker info` works without sudo",
      "Check again with: npx khctl doctor --profile minikube",
    ]);
  });

  it("a failed check that is not required is a warning with its fix, and does not fail the preflight", () => {
    const report = JSON.stringify({
      checks: [
        { name: "docker", ok: true, required: true, message: "Docker is reachable" },
        { name: "localstack", ok: false, required: false, message: "needs a token", fix: "set one" },
      ],
    });
    const checks = parseDoctorReport(report, "");
    expect(preflightFailure(checks, ARGS)).toBeUndefined();
    expect(preflightWarnings(checks)).toEqual(["localstack: needs a token (fix: set one)"]);
  });

  it("passes the LocalStack image and whether a token is set, never the token", () => {
    expect(doctorArgs(ARGS)).toContain("localstack/localstack:4.14.0");
    expect(doctorArgs(ARGS)).not.toContain("--localstack-token");
    const withToken = { ...ARGS, localstack: { image: "localstack/localstack:4.15.0", authTokenSet: true } };
    expect(doctorArgs(withToken).slice(-3)).toEqual([
      "--localstack-image",
      "localstack/localstack:4.15.0",
      "--localstack-token",
    ]);
  });

  it("says why when khctl printed no report (it could not start)", () => {
    expect(() => parseDoctorReport("", "node: bad option: --import\n")).toThrow(
      /the preflight `khctl doctor` printed no report: node: bad option: --import/,
    );
    expect(() => parseDoctorReport("", "")).toThrow(PreflightError);
  });
});

describe("a stack whose preflight fails (Docker down)", () => {
  it("stops before anything is declared, no provider included, with the doctor's fix and no stack trace", async () => {
    const run = await runProgram("hybrid", {}, [], { doctor: DOCKER_DOWN });
    expect(invokedCommands(run)).toEqual(["doctor"]);
    expect(run.registrations).toEqual([]);
    // A RunError: Pulumi prints its message alone.
    expect(pulumi.RunError.isInstance(run.error as Error)).toBe(true);
    expect((run.error as Error).message).toContain("fix: start Docker");
    expect(run.outputs).toEqual({});
  });
});

describe("`pulumi up --target` of something else, before the rest exists", () => {
  it("never throws on an output that is not there; the output says what to run", async () => {
    const run = await runProgram("local", {}, [], { untargeted: ["secrets-db-password", "queue-ensure"] });
    expect(run.error).toBeUndefined();
    expect(run.outputs.databaseUrl).toBe(
      "the database password does not exist yet: run `pulumi up -s local`",
    );
    // The queue URLs never depend on a command's output: known before the queues exist.
    expect(run.outputs.queueUrl).toBe(
      "http://localhost:4566/queue/us-east-1/000000000000/keeperhub-workflow-queue",
    );
  });
});
