/**
 * Drift: things the stack made that can vanish behind Pulumi's back (LocalStack's queues after a restart,
 * a deleted minikube, its images, objects in the cluster). Each preview and `up` reads their state with
 * invokes (before anything is declared); a resource whose effect is missing gets a new restore token, so
 * `pulumi up` re-runs or re-creates exactly that resource. Otherwise the token stored in the state is kept
 * (ignoreChanges), so an unchanged machine still gives "no changes", and so does the `up` after a heal.
 */

/** What an invoke saw of something a resource made. `unknown`: it could not look (leave as is). */
export type Seen = "present" | "missing" | "unknown";

/** The token a resource carries and the resource options that go with it. */
export interface Restore {
  /** Stored with the resource; a different value re-runs a command or re-creates an object. */
  readonly token: string;
  /** The token's path when it must not change (present or unknown); empty when missing. */
  readonly ignoreChanges: string[];
}

/** The token of a resource created normally (never restored). */
export const CREATED = "created";

/**
 * The restore token for a resource whose effect was `seen`. A missing effect gets a token that names
 * the time, so it always differs from the stored one, even after an earlier restore.
 */
export function restoreToken(seen: Seen, tokenPath: string, now: Date): Restore {
  if (seen === "missing") return { token: `restored ${now.toISOString()}: was missing`, ignoreChanges: [] };
  return { token: CREATED, ignoreChanges: [tokenPath] };
}

/** The environment variable that carries a command's restore token (a change re-runs the command). */
export const RESTORE_ENV = "KEEPERHUB_RESTORE";

/** A command's restore token: its environment entry and the matching resource options. */
export function commandRestore(
  seen: Seen,
  now: Date,
): { environment: Record<string, string>; ignoreChanges: string[] } {
  const { token, ignoreChanges } = restoreToken(seen, `environment.${RESTORE_ENV}`, now);
  return { environment: { [RESTORE_ENV]: token }, ignoreChanges };
}

/** The annotation that carries a Kubernetes object's restore token (the only metadata annotation we set). */
export const RESTORE_ANNOTATION = "keeperhub.io/restored";

/**
 * A Kubernetes object's restore token: a metadata annotation, and the options that re-create the object
 * when the token changes. An update cannot bring back a deleted object (the provider reads it first),
 * so a changed token replaces it; names are fixed, so the (already absent) old one is deleted first.
 */
export function objectRestore(
  seen: Seen,
  now: Date,
): {
  annotations: Record<string, string>;
  options: { ignoreChanges: string[]; replaceOnChanges: string[]; deleteBeforeReplace: true };
} {
  // Only our key, for both: other annotations (the Deployment's revision) belong to the cluster, and an
  // object that had no token yet (a stack from before) must not be replaced for getting one.
  const tokenPath = `metadata.annotations["${RESTORE_ANNOTATION}"]`;
  const { token, ignoreChanges } = restoreToken(seen, tokenPath, now);
  return {
    annotations: { [RESTORE_ANNOTATION]: token },
    options: { ignoreChanges, replaceOnChanges: [tokenPath], deleteBeforeReplace: true },
  };
}
