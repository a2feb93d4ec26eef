import * as k8s from "@kubernetes/client-node";
import { Job } from "kubernetes-models/batch/v1";

/**
 * Paths of fields that the Kubernetes schema does not know, found by walking the object along
 * @kubernetes/client-node's model type maps (kubernetes-models validates types but ignores unknown fields).
 * `type` is a client-node model name such as "V1Job".
 */
export function unknownFields(value: unknown, type: string, path = ""): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    const itemType = array[1];
    return Array.isArray(value)
      ? value.flatMap((item, i) => unknownFields(item, itemType, `${path}[${i}]`))
      : [];
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    const valueType = map[1];
    return typeof value === "object"
      ? Object.entries(value).flatMap(([key, item]) => unknownFields(item, valueType, `${path}.${key}`))
      : [];
  }
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeType[] }>)[type];
  const attributes = model?.getAttributeTypeMap?.();
  if (!attributes || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => {
    const attribute = attributes.find((a) => a.baseName === key);
    const at = path ? `${path}.${key}` : key;
    return attribute ? unknownFields(item, attribute.type, at) : [at];
  });
}
interface AttributeType {
  readonly baseName: string;
  readonly type: string;
}

/** Schema problems of a batch/v1 Job body: kubernetes-models validation plus unknown fields; [] when valid. */
export function jobProblems(body: unknown): string[] {
  const problems: string[] = [];
  try {
    new Job(body as ConstructorParameters<typeof Job>[0]).validate();
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (const field of unknownFields(body, "V1Job")) problems.push(`unknown field "${field}"`);
  return problems;
}
