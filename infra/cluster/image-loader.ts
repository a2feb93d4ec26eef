import { shellQuote } from "../khctl.js";
import { minikube } from "./observe.js";

/**
 * How an image the Docker engine built gets into the cluster's container runtime: the stack loads its images
 * with minikube; the real tier loads them into the test tools' worker node (../shared/tools/kube/node.sh).
 * Both are shell commands built here, so the command the stack runs and the one the tests run come from the
 * same function (imageLoadScript).
 */
export interface ImageLoader {
  /** What loads the images, for messages: `minikube -p <profile>`, `node.sh`. */
  readonly name: string;
  /** The command that copies `ref` (`name:tag`) from the Docker engine into the cluster. */
  load(ref: string): string;
  /**
   * The command that removes `ref` from the cluster. It always succeeds: a stopped or deleted cluster has
   * nothing to clean, and that must not block a destroy.
   */
  unload(ref: string): string;
}

/** `minikube image load` / `image rm` in a profile: the hybrid stack's loader. */
export function minikubeImageLoader(profile: string): ImageLoader {
  return {
    name: minikube(profile, "").trim(),
    load: (ref) => minikube(profile, `image load ${shellQuote(ref)}`),
    unload: (ref) => `${minikube(profile, `image rm ${shellQuote(ref)}`)} || true`,
  };
}

/**
 * The test tools' worker node (`node.sh load IMAGE`: `docker save | ctr import`, as `minikube image load`
 * does), by the path of its script. Its containerd names images with their registry (docker.io/library/…).
 */
export function kubeNodeImageLoader(nodeScript: string): ImageLoader {
  const script = `bash ${shellQuote(nodeScript)}`;
  return {
    name: "node.sh",
    load: (ref) => `${script} load ${shellQuote(ref)}`,
    // Through the CRI (crictl rmi): it removes the image with every name it has there, the id the CRI adds
    // included; `ctr images rm` of the name alone would leave that id and the layers behind.
    unload: (ref) => `${script} crictl rmi ${shellQuote(qualifiedRef(ref))} >/dev/null 2>&1 || true`,
  };
}

/** Loads a locally built image into the cluster's container runtime. */
export function imageLoadScript(loader: ImageLoader, ref: string): string {
  return loader.load(ref);
}

/** Removes an image from the cluster when its tag is replaced or on destroy; never fails. */
export function imageUnloadScript(loader: ImageLoader, ref: string): string {
  return loader.unload(ref);
}

/** `docker.io/library/x:t` for `x:t`, as containerd names what `docker save` gave it. */
export function qualifiedRef(ref: string): string {
  const [first] = ref.split("/");
  const hasRegistry = ref.includes("/") && first !== undefined && /[.:]|^localhost$/.test(first);
  if (hasRegistry) return ref;
  return `docker.io/${ref.includes("/") ? ref : `library/${ref}`}`;
}
