import { errorMessage } from "../core/errors.js";
import type { Exec } from "../doctor/exec.js";
import { type StatusPart, unreachable } from "./parts.js";

export interface MinikubeState {
  readonly host: string;
  readonly kubelet: string;
  readonly apiServer: string;
}

/**
 * `minikube status -o json` for the profile. minikube exits non-zero when something is stopped but
 * still prints the JSON, so the output is read either way.
 */
export async function minikubePart(exec: Exec, profile: string): Promise<StatusPart<MinikubeState>> {
  let text: string;
  try {
    text = await exec("minikube", ["-p", profile, "status", "-o", "json"]);
  } catch (error) {
    const message = errorMessage(error);
    const json = /\{.*\}/s.exec(message)?.[0];
    if (!json)
      return unreachable(
        "minikube",
        true,
        `minikube (profile ${profile}): ${message} (minikube start -p ${profile})`,
      );
    text = json;
  }
  let parsed: Record<string, string>;
  try {
    parsed = JSON.parse(text) as Record<string, string>;
  } catch {
    return unreachable("minikube", true, `minikube status printed no JSON: ${text.slice(0, 120)}`);
  }
  const data = {
    host: parsed.Host ?? "?",
    kubelet: parsed.Kubelet ?? "?",
    apiServer: parsed.APIServer ?? "?",
  };
  const ok = data.host === "Running" && data.kubelet === "Running" && data.apiServer === "Running";
  return {
    name: "minikube",
    required: true,
    ok,
    summary: `profile ${profile}: host ${data.host}, kubelet ${data.kubelet}, apiserver ${data.apiServer}${
      ok ? "" : ` (minikube start -p ${profile})`
    }`,
    lines: [],
    data,
  };
}
