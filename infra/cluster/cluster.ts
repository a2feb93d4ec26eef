import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { runnerSelector } from "../../services/contracts/job-template.js";
import { childOf } from "../component.js";
import { commandRestore, objectRestore } from "../drift.js";
import { shellQuote } from "../khctl.js";
import { type ImageLoader, imageLoadScript, imageUnloadScript, minikubeImageLoader } from "./image-loader.js";
import {
  type ClusterObservation,
  clusterObjectRefs,
  kubectlFunction,
  minikube,
  seenImage,
  seenMinikube,
  seenObject,
} from "./observe.js";
import { namespaceArgs } from "./specs.js";

export interface MinikubeSettings {
  /** minikube profile (`-p`). */
  readonly profile: string;
  /** Memory for `minikube start`, MiB. */
  readonly memoryMb: number;
  /** CPUs for `minikube start`. */
  readonly cpus: number;
  /** Stop minikube on `pulumi destroy`; false leaves it running. */
  readonly stopOnDestroy: boolean;
}

/**
 * Starts minikube only when it is not running, so an existing cluster (and its memory) is left alone:
 * memory and CPUs apply to a minikube this starts, and changing them never stops or resizes a running one.
 */
export function minikubeStartScript(settings: MinikubeSettings): string {
  return `${minikube(settings.profile, "status >/dev/null 2>&1")} || ${minikube(
    settings.profile,
    `start --memory=${settings.memoryMb} --cpus=${settings.cpus}`,
  )}`;
}

/**
 * Deletes every runner Job (and, by propagation, its pods) the spawner created. Uses kubectl when
 * installed, else the one minikube bundles. `--ignore-not-found` makes a second run harmless. A minikube
 * that is not running (stopped or deleted by hand) has no Jobs to delete, so destroy goes on; any other
 * failure stops it.
 */
export function deleteRunnerJobsScript(profile: string, context: string, namespace: string): string {
  const args = `--context ${shellQuote(context)} -n ${shellQuote(namespace)} delete jobs -l ${shellQuote(
    runnerSelector(),
  )} --ignore-not-found --wait=true --cascade=foreground`;
  return [
    `if ! ${minikube(profile, "status >/dev/null 2>&1")}; then echo "minikube ${profile} is not running: no runner Jobs to delete" >&2; exit 0; fi`,
    kubectlFunction(profile),
    `k ${args}`,
  ].join("\n");
}

export interface ClusterArgs {
  readonly minikube: MinikubeSettings;
  /** The kubeconfig context the provider is pinned to; it can never deploy to another cluster. */
  readonly kubeContext: string;
  /** Namespace to create; the scheduler objects and runner Jobs live in it. */
  readonly namespace: string;
  /**
   * Images to load into minikube, by name: the image resource (built first), the reference it holds (what
   * is loaded) and the tag this program builds (what the observation of minikube is asked about).
   */
  readonly images: Record<
    string,
    { readonly resource: pulumi.Resource; readonly ref: pulumi.Output<string>; readonly tag: string }
  >;
  /** What this run saw of minikube: what is gone is started, loaded or created again. */
  readonly observed: ClusterObservation;
  /** When it looked. */
  readonly observedAt: Date;
  /** What loads the images into the cluster. Default: `minikube image load` in the profile. */
  readonly imageLoader?: ImageLoader;
}

/**
 * The minikube side: minikube started if it is not running, the service images loaded (again when a tag
 * changes, or when minikube lost them), a Kubernetes provider pinned to the configured context, the
 * namespace, and a clean-up that deletes the spawner's runner Jobs on destroy. minikube itself is left
 * running on destroy unless `minikubeStopOnDestroy` is set.
 */
export class Cluster extends pulumi.ComponentResource {
  readonly start: command.local.Command;
  readonly provider: k8s.Provider;
  readonly namespace: k8s.core.v1.Namespace;
  /** One image load (`minikube image load` by default) per image, by the name given in `images`. */
  readonly imageLoads: Record<string, command.local.Command>;
  /** Deletes runner Jobs on destroy; the spawner Deployment depends on it, so it runs after the spawner is gone. */
  readonly runnerJobsCleanup: command.local.Command;
  /** The start's restore token: commands that must run again when minikube was started again carry it. */
  readonly startRestore: ReturnType<typeof commandRestore>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("keeperhub:infra:Cluster", name, {}, opts);
    const profile = args.minikube.profile;
    const at = args.observedAt;
    const loader = args.imageLoader ?? minikubeImageLoader(profile);
    this.startRestore = commandRestore(seenMinikube(args.observed), at);
    this.start = new command.local.Command(
      `${name}-minikube`,
      {
        create: minikubeStartScript(args.minikube),
        delete: args.minikube.stopOnDestroy ? minikube(profile, "stop") : undefined,
        environment: this.startRestore.environment,
      },
      // Never replaced, so its delete (`minikube stop`, when asked for) runs on destroy only: a new
      // memory, CPU count or profile is an update, which runs the start script again, a no-op on a running
      // minikube. (Stacks from before kept [profile, memory, cpus] as triggers; ignored, never a replace.)
      childOf(this, opts, { ignoreChanges: ["triggers", ...this.startRestore.ignoreChanges] }),
    );

    this.imageLoads = Object.fromEntries(
      Object.entries(args.images).map(([kind, image]) => {
        const restore = commandRestore(seenImage(args.observed, image.tag), at);
        const load = new command.local.Command(
          `${name}-load-${kind}`,
          {
            create: image.ref.apply((ref) => imageLoadScript(loader, ref)),
            delete: image.ref.apply((ref) => imageUnloadScript(loader, ref)),
            environment: restore.environment,
            // A new tag replaces the load (the old tag is unloaded); a lost image is loaded again (an update).
            triggers: [image.ref],
          },
          childOf(this, opts, {
            dependsOn: [image.resource, this.start],
            ignoreChanges: restore.ignoreChanges,
          }),
        );
        return [kind, load];
      }),
    );

    this.provider = new k8s.Provider(
      `${name}-provider`,
      // deleteUnreachable: a minikube deleted by hand must not make `pulumi destroy` impossible.
      { context: args.kubeContext, enableServerSideApply: true, deleteUnreachable: true },
      childOf(this, opts, { dependsOn: [this.start] }),
    );
    const restore = objectRestore(seenObject(args.observed, clusterObjectRefs(args.namespace).namespace), at);
    this.namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      namespaceArgs(args.namespace, restore.annotations),
      childOf(this, opts, { provider: this.provider, ...restore.options }),
    );
    this.runnerJobsCleanup = new command.local.Command(
      `${name}-runner-jobs`,
      { delete: deleteRunnerJobsScript(profile, args.kubeContext, args.namespace) },
      childOf(this, opts, { dependsOn: [this.namespace] }),
    );
    this.registerOutputs({ namespace: this.namespace.metadata.name, kubeContext: args.kubeContext });
  }
}
