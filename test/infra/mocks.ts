/**
 * Runs the Pulumi program under mocks, the way Pulumi loads it (a dynamic import of infra/index.ts after
 * the runtime is configured), and records every registration with its raw inputs (secrets still wrapped)
 * and its dependencies, read from the RegisterResource requests themselves: the mocks' newResource
 * callback does not see dependencies.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";

const ROOT = new URL("../../", import.meta.url);

/** The program's entry, as Pulumi finds it: package.json `main`. */
export function programEntry(): string {
  const { main } = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as { main: string };
  return new URL(main, ROOT).href;
}

/** The marker Pulumi puts on a serialized secret value. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  urn: string;
  /** Parent URN ("" for the stack's direct children). */
  readonly parent: string;
  /** Provider reference (`urn::id`), when set explicitly. */
  readonly provider: string;
  /** URNs this resource waits for: dependsOn plus the resources whose outputs it reads. */
  readonly dependencies: string[];
  /** Inputs as sent, secrets still wrapped in { [sig]: secret, value }. */
  readonly raw: Record<string, unknown>;
}

export interface ProgramRun {
  readonly registrations: Registration[];
  /** The program's exports (stack outputs), resolved. */
  readonly outputs: Record<string, unknown>;
  /** The exports as the program made them (Outputs stay Outputs, to check which are secret). */
  readonly exports: Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: mock state is free-form provider JSON
type Json = Record<string, any>;

/** Computed outputs the real providers would return; the rest echo the inputs. */
function mockState(type: string, name: string, inputs: Json): Json {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: `generated-password-${name}` };
    case "random:index/randomBytes:RandomBytes":
      return { ...inputs, hex: "9f".repeat(32), base64: "generated-bytes" };
    case "docker:index/remoteImage:RemoteImage":
      return { ...inputs, imageId: `sha256:${name}`, repoDigest: `${inputs.name}@sha256:0` };
    case "docker:index/image:Image":
      return { ...inputs, repoDigest: `${inputs.imageName}@sha256:0`, baseImageName: inputs.imageName };
    case "command:local:Command":
      if (String(inputs.create ?? "").includes("queue ensure")) {
        return {
          ...inputs,
          stdout: JSON.stringify({
            queueUrl: "http://host.minikube.internal:4566/000000000000/keeperhub-workflow-queue",
            deadLetterQueueUrl: "http://host.minikube.internal:4566/000000000000/keeperhub-workflow-dlq",
            deadLetterQueueArn: "arn:aws:sqs:us-east-1:000000000000:keeperhub-workflow-dlq",
          }),
          stderr: "",
        };
      }
      return { ...inputs, stdout: "", stderr: "" };
    default:
      return inputs;
  }
}

/** Unwraps a value that is itself an Output (resolved) for reading exports. */
async function resolve(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    return new Promise((done) => (value as pulumi.Output<unknown>).apply((v) => done(v)));
  }
  return value;
}

/**
 * Sets mocks and config for `stack`, imports infra/index.ts, waits for every registration, and returns
 * what was registered. Call once per test file (each file runs in its own process).
 */
export async function runProgram(
  stack: string,
  config: Record<string, string>,
  secretKeys: string[] = [],
): Promise<ProgramRun> {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) }),
      call: (args) => args.inputs,
    },
    "keeperhub",
    stack,
    false,
  );
  const registrations: Registration[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (
      req: RegisterRequest,
      callback: (err: unknown, res?: RegisterResponse) => void,
    ) => void;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const registration: Registration = {
      type: req.getType(),
      name: req.getName(),
      custom: req.getCustom(),
      urn: "",
      parent: req.getParent(),
      provider: req.getProvider(),
      dependencies: req.getDependenciesList(),
      raw: (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
    };
    registrations.push(registration);
    original(req, (err, res) => {
      if (res) registration.urn = res.getUrn();
      callback(err, res);
    });
  };
  pulumi.runtime.setAllConfig(config, secretKeys);

  // Pulumi imports package.json's `main` (infra/index.ts) with node; so do we.
  const program = (await import(programEntry())) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) outputs[key] = await resolve(value);
  // Registrations are asynchronous: wait until the runtime has no RPC in flight.
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { registrations, outputs, exports: program };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getProvider(): string;
  getDependenciesList(): string[];
  getObject(): { toJavaScript(): unknown } | undefined;
}
interface RegisterResponse {
  getUrn(): string;
}

/** Finds the one registration of `type` named `name`; throws with what exists when missing. */
export function find(run: ProgramRun, type: string, name: string): Registration {
  const found = run.registrations.find((r) => r.type === type && r.name === name);
  if (!found) {
    const names = run.registrations.filter((r) => r.type === type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; registered: ${names.join(", ") || "none"}`);
  }
  return found;
}

/**
 * Every URN `registration` waits for, directly or through other resources. Parents are not followed:
 * Pulumi does not make a child wait for what its parent component depends on.
 */
export function dependencyClosure(run: ProgramRun, registration: Registration): Set<string> {
  const byUrn = new Map(run.registrations.map((r) => [r.urn, r]));
  const seen = new Set<string>();
  const pending = [...registration.dependencies];
  while (pending.length > 0) {
    const urn = pending.pop() as string;
    if (seen.has(urn)) continue;
    seen.add(urn);
    pending.push(...(byUrn.get(urn)?.dependencies ?? []));
  }
  return seen;
}

/** True when `a` waits for `b` (directly or transitively). */
export function waitsFor(run: ProgramRun, a: Registration, b: Registration): boolean {
  return dependencyClosure(run, a).has(b.urn);
}

/** Removes Pulumi's secret wrappers, for reading values. */
export function unwrap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrap);
  if (value && typeof value === "object") {
    const object = value as Json;
    if (object[SIG_KEY] === SECRET_SIG) return unwrap(object.value);
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, unwrap(v)]));
  }
  return value;
}

/**
 * Paths of plain (not secret-wrapped) strings that contain any of `needles`. An empty list means every
 * occurrence of those values travels as a Pulumi secret.
 */
export function plainOccurrences(value: unknown, needles: string[], path = ""): string[] {
  if (typeof value === "string") return needles.some((n) => value.includes(n)) ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plainOccurrences(v, needles, `${path}[${i}]`));
  if (value && typeof value === "object") {
    const object = value as Json;
    if (object[SIG_KEY] === SECRET_SIG) return [];
    return Object.entries(object).flatMap(([k, v]) =>
      plainOccurrences(v, needles, path ? `${path}.${k}` : k),
    );
  }
  return [];
}

export const COMMAND = "command:local:Command";
export const CONTAINER = "docker:index/container:Container";

/**
 * `type name` of what both stacks declare: preflight, the Secrets component, Postgres and LocalStack,
 * the queue, the migrations and the images. Each stack adds its own secret resource and the rest.
 */
export const COMMON_REGISTRATIONS: readonly string[] = [
  "keeperhub:infra:Preflight preflight",
  `${COMMAND} preflight-doctor`,
  "keeperhub:infra:Secrets secrets",
  "keeperhub:infra:Containers containers",
  "docker:index/network:Network containers-network",
  "docker:index/volume:Volume containers-postgres-data",
  "docker:index/volume:Volume containers-localstack-data",
  "docker:index/remoteImage:RemoteImage containers-postgres-image",
  "docker:index/remoteImage:RemoteImage containers-localstack-image",
  `${CONTAINER} containers-postgres`,
  `${CONTAINER} containers-localstack`,
  "keeperhub:infra:Queue queue",
  `${COMMAND} queue-ensure`,
  "keeperhub:infra:Migrations migrations",
  `${COMMAND} migrations-migrate`,
  "keeperhub:infra:Images images",
  "docker:index/image:Image images-scheduler",
  "docker:index/image:Image images-runner",
];

/** A registration's inputs with secrets unwrapped. */
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes and Docker inputs are free-form JSON
export const inputs = (r: Registration): any => unwrap(r.raw);

/** Names of the custom resources that do not wait for `registration` (directly or transitively). */
export function notWaitingFor(run: ProgramRun, registration: Registration): string[] {
  return run.registrations
    .filter((r) => r.custom && r !== registration && !waitsFor(run, r, registration))
    .map((r) => r.name);
}
