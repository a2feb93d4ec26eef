/**
 * Runs the Pulumi program under mocks, the way Pulumi loads it (a dynamic import of infra/index.ts after
 * the runtime is configured, then its default export called and awaited), and records every registration
 * with its raw inputs (secrets still wrapped), its dependencies and options, read from the RegisterResource
 * requests themselves (the mocks' newResource callback sees neither), and every invoke, in one timeline.
 * The machine the program reads (the doctor's report, LocalStack's queues, minikube) is a MockMachine.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { clusterObjectRefs } from "../../infra/cluster/observe.js";
import { DEFAULT_NODE_IMAGE } from "../../infra/config.js";
import { imageTag } from "../../infra/images.js";
import { RUN_TOKEN } from "../../infra/khctl.js";
import { DEFAULT_NAMESPACE, DLQ_NAME, IMAGES, QUEUE_NAME } from "../../services/contracts/names.js";

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
  readonly ignoreChanges: string[];
  readonly replaceOnChanges: string[];
  readonly deleteBeforeReplace: boolean;
  /** Custom create/update timeouts, e.g. "3m" ("" when unset). */
  readonly timeouts: { readonly create: string; readonly update: string };
  /** Inputs as sent, secrets still wrapped in { [sig]: secret, value }. */
  readonly raw: Record<string, unknown>;
}

/** One invoke the program made (`command:local:run`: the read-only commands it runs on the machine). */
export interface Invoke {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

/** What happened, in order: invokes and resource registrations. */
export type Event =
  | { readonly kind: "invoke"; readonly invoke: Invoke }
  | { readonly kind: "register"; readonly registration: Registration };

export interface ProgramRun {
  readonly registrations: Registration[];
  readonly invokes: Invoke[];
  readonly events: Event[];
  /** The stack outputs (what the program returned), resolved. */
  readonly outputs: Record<string, unknown>;
  /** The outputs as the program made them (Outputs stay Outputs, to check which are secret). */
  readonly exports: Record<string, unknown>;
  /** What the program threw, if it did (then outputs are empty). */
  readonly error?: unknown;
}

/** The machine as the program's read-only commands find it. */
export interface MockMachine {
  /** `khctl doctor --json` output. Default: every check passes. */
  readonly doctor?: string;
  /** What `khctl queue check --json` finds. Default: both queues. */
  readonly queues?: "present" | "missing" | "unreachable";
  /** observeScript's output. Default: minikube running with the stack's images and objects. */
  readonly cluster?: string;
  /**
   * Resources that do not exist and are not created in this run (`pulumi up --target` of something
   * else): their outputs come back undefined, as the engine returns them.
   */
  readonly untargeted?: readonly string[];
  /**
   * Resources that exist and are not part of this run (`pulumi up --target` of something else): the
   * engine answers their registration with their old state, whatever the program now declares.
   */
  readonly stale?: Readonly<Record<string, Record<string, unknown>>>;
}

/** The images the program builds with the default base image, as minikube lists them. */
export function defaultImageRefs(): { scheduler: string; runner: string } {
  return {
    scheduler: `${IMAGES.scheduler}:${imageTag("scheduler", DEFAULT_NODE_IMAGE)}`,
    runner: `${IMAGES.runner}:${imageTag("runner", DEFAULT_NODE_IMAGE)}`,
  };
}

/** observeScript output for a running minikube holding `images` and `objects`. */
export function runningCluster(
  images: readonly string[] = Object.values(defaultImageRefs()),
  objects: readonly string[] = Object.values(clusterObjectRefs(DEFAULT_NAMESPACE)),
): string {
  return [
    "minikube 0 Running/Running",
    ...images.map((image) => `image docker.io/library/${image}`),
    "image registry.k8s.io/pause:3.10",
    "images listed",
    ...objects.map((object) => `object ${object}`),
    "objects listed",
  ].join("\n");
}

export const PASSING_DOCTOR = JSON.stringify({
  ok: true,
  checks: [{ name: "docker", ok: true, required: true, message: "Docker is reachable (server 27.3.1)" }],
});

function queueCheck(state: NonNullable<MockMachine["queues"]>): string {
  if (state === "unreachable") {
    return JSON.stringify({
      endpoint: "http://localhost:4566",
      reachable: false,
      error: "connection refused",
      queues: [],
    });
  }
  const url = (name: string) =>
    state === "present" ? `http://localhost:4566/queue/us-east-1/000000000000/${name}` : null;
  return JSON.stringify({
    endpoint: "http://localhost:4566",
    reachable: true,
    queues: [QUEUE_NAME, DLQ_NAME].map((name) => ({ name, url: url(name) })),
  });
}

/** The stdout of one of the program's read-only commands on `machine`. */
function runOn(machine: MockMachine, script: string): string {
  if (/ doctor /.test(script)) return machine.doctor ?? PASSING_DOCTOR;
  if (/ queue check /.test(script)) return queueCheck(machine.queues ?? "present");
  if (/ status --format /.test(script)) return machine.cluster ?? runningCluster();
  throw new Error(`the mocks know no command like: ${script}`);
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
      return { ...inputs, repoDigest: imageDigest(inputs), baseImageName: inputs.imageName };
    case "command:local:Command":
      return { ...inputs, stdout: "", stderr: "" };
    default:
      return inputs;
  }
}

/**
 * The repoDigest the docker provider returns: for a pushed image `repository@sha256:<64 hex>`, here a
 * hash of the name it was pushed as (so each content tag has its own digest); for a local one, as before.
 */
export function imageDigest(inputs: Json): string {
  const name = String(inputs.imageName);
  if (inputs.skipPush !== false) return `${name}@sha256:0`;
  const repository = name.slice(0, name.lastIndexOf(":"));
  return `${repository}@sha256:${createHash("sha256").update(name).digest("hex")}`;
}

/** Unwraps a value that is itself an Output (resolved) for reading outputs. */
async function resolve(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    return new Promise((done) => (value as pulumi.Output<unknown>).apply((v) => done(v)));
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(
      await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolve(v)] as const)),
    );
  }
  return value;
}

/** The mocks for `machine`: registrations answered as the providers (or, `--target`, the engine) would. */
function machineMocks(machine: MockMachine, invokes: Invoke[], events: Event[]): pulumi.runtime.Mocks {
  return {
    newResource: (args) => {
      if (machine.untargeted?.includes(args.name)) return { id: undefined, state: {} };
      const stale = machine.stale?.[args.name];
      if (stale) return { id: `${args.name}-id`, state: stale };
      return { id: `${args.name}-id`, state: mockState(args.type, args.name, args.inputs) };
    },
    call: (args) => {
      const invoke = { token: args.token, inputs: args.inputs as Record<string, unknown> };
      invokes.push(invoke);
      events.push({ kind: "invoke", invoke });
      if (args.token !== RUN_TOKEN) throw new Error(`unexpected invoke ${args.token}`);
      return { ...args.inputs, stdout: runOn(machine, String(args.inputs.command)), stderr: "" };
    },
  };
}

/** What a RegisterResource request says (the mocks' newResource sees neither dependencies nor options). */
function registrationOf(req: RegisterRequest): Registration {
  const timeouts = req.getCustomtimeouts();
  return {
    type: req.getType(),
    name: req.getName(),
    custom: req.getCustom(),
    urn: "",
    parent: req.getParent(),
    provider: req.getProvider(),
    dependencies: req.getDependenciesList(),
    ignoreChanges: req.getIgnorechangesList(),
    replaceOnChanges: req.getReplaceonchangesList(),
    deleteBeforeReplace: req.getDeletebeforereplace(),
    timeouts: { create: timeouts?.getCreate() ?? "", update: timeouts?.getUpdate() ?? "" },
    raw: (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
  };
}

/** Wraps the mock monitor's registerResource to record each request, with the URN it is given. */
function recordRegistrations(registrations: Registration[], events: Event[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (
      req: RegisterRequest,
      callback: (err: unknown, res?: RegisterResponse) => void,
    ) => void;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const registration = registrationOf(req);
    registrations.push(registration);
    events.push({ kind: "register", registration });
    original(req, (err, res) => {
      if (res) registration.urn = res.getUrn();
      callback(err, res);
    });
  };
}

/**
 * Sets mocks and config for `stack`, imports infra/index.ts and runs it on `machine`, waits for every
 * registration, and returns what happened. Call once per test file (each file runs in its own process).
 */
export async function runProgram(
  stack: string,
  config: Record<string, string>,
  secretKeys: string[] = [],
  machine: MockMachine = {},
): Promise<ProgramRun> {
  const registrations: Registration[] = [];
  const invokes: Invoke[] = [];
  const events: Event[] = [];
  await pulumi.runtime.setMocks(machineMocks(machine, invokes, events), "keeperhub", stack, false);
  recordRegistrations(registrations, events);
  pulumi.runtime.setAllConfig(config, secretKeys);

  // Pulumi imports package.json's `main` (infra/index.ts) with node and calls its default export; so do we.
  const program = (await import(programEntry())) as { default: () => Promise<Record<string, unknown>> };
  let exports: Record<string, unknown> = {};
  let error: unknown;
  try {
    exports = await program.default();
  } catch (caught) {
    error = caught;
  }
  const outputs = (await resolve(exports)) as Record<string, unknown>;
  // Registrations are asynchronous: wait until the runtime has no RPC in flight.
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { registrations, invokes, events, outputs, exports, ...(error === undefined ? {} : { error }) };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getProvider(): string;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string } | undefined;
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

/** Paths of the values that travel as Pulumi secrets (a preview prints `[secret]` for each). */
export function secretPaths(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => secretPaths(v, `${path}[${i}]`));
  if (value && typeof value === "object") {
    const object = value as Json;
    if (object[SIG_KEY] === SECRET_SIG) return [path];
    return Object.entries(object).flatMap(([k, v]) => secretPaths(v, path ? `${path}.${k}` : k));
  }
  return [];
}

/**
 * A stub configuration of stack `cluster` (no secret among them is real): what the bench's preview and the
 * PR checks' `pulumi preview -s cluster` set, so the program declares every object it would.
 */
export const CLUSTER_STUB_CONFIG: Readonly<Record<string, string>> = {
  "keeperhub:kubeContext": "kind-keeperhub",
  "keeperhub:registry": "127.0.0.1:5000/keeperhub",
  "keeperhub:databaseUrl": "postgres://keeperhub:keeperhub@127.0.0.1:5432/keeperhub",
  "keeperhub:queueUrl": "http://localhost:4566/000000000000/keeperhub-workflow-queue",
  "keeperhub:dlqUrl": "http://localhost:4566/000000000000/keeperhub-workflow-dlq",
  "keeperhub:sqsEndpoint": "http://localhost:4566",
  "keeperhub:createQueues": "true",
  "keeperhub:awsAccessKeyId": "test",
  "keeperhub:awsSecretAccessKey": "test",
};

/** The Kubernetes resource types the stacks declare, by what they are. */
export const K8S_TYPES = {
  namespace: "kubernetes:core/v1:Namespace",
  quota: "kubernetes:core/v1:ResourceQuota",
  limitRange: "kubernetes:core/v1:LimitRange",
  configMap: "kubernetes:core/v1:ConfigMap",
  secret: "kubernetes:core/v1:Secret",
  serviceAccount: "kubernetes:core/v1:ServiceAccount",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  deployment: "kubernetes:apps/v1:Deployment",
  cronJob: "kubernetes:batch/v1:CronJob",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
} as const;

export const COMMAND = "command:local:Command";
export const CONTAINER = "docker:index/container:Container";
export const IMAGE = "docker:index/image:Image";

/**
 * `type name` of what both stacks declare: the Secrets component with both generated values (declared
 * whether or not the config sets them), Postgres (and its password command) and LocalStack, the queue, the
 * migrations and the scheduler image with its clean-up.
 */
export const COMMON_REGISTRATIONS: readonly string[] = [
  "keeperhub:infra:Secrets secrets",
  "random:index/randomPassword:RandomPassword secrets-db-password",
  "random:index/randomBytes:RandomBytes secrets-encryption-key",
  "keeperhub:infra:Containers containers",
  "docker:index/network:Network containers-network",
  "docker:index/volume:Volume containers-postgres-data",
  "docker:index/volume:Volume containers-localstack-data",
  "docker:index/remoteImage:RemoteImage containers-postgres-image",
  "docker:index/remoteImage:RemoteImage containers-localstack-image",
  `${CONTAINER} containers-postgres`,
  `${COMMAND} containers-postgres-password`,
  `${CONTAINER} containers-localstack`,
  "keeperhub:infra:Queue queue",
  `${COMMAND} queue-ensure`,
  "keeperhub:infra:Migrations migrations",
  `${COMMAND} migrations-migrate`,
  "keeperhub:infra:Images images",
  `${IMAGE} images-scheduler`,
  `${COMMAND} images-scheduler-cleanup`,
];

/** A registration's inputs with secrets unwrapped. */
// biome-ignore lint/suspicious/noExplicitAny: Kubernetes and Docker inputs are free-form JSON
export const inputs = (r: Registration): any => unwrap(r.raw);

/** The read-only commands the program ran, in order: `doctor`, `queue check`, `minikube`. */
export function invokedCommands(run: ProgramRun): string[] {
  return run.invokes.map((invoke) => {
    const script = String(invoke.inputs.command);
    if (/ doctor /.test(script)) return "doctor";
    if (/ queue check /.test(script)) return "queue check";
    if (/ status --format /.test(script)) return "minikube";
    return script;
  });
}
