import type * as pulumi from "@pulumi/pulumi";

type DependsOn = pulumi.ResourceOptions["dependsOn"];

function asList(dependsOn: DependsOn): pulumi.Input<pulumi.Resource>[] {
  if (!dependsOn) return [];
  return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}

/**
 * Options for a component's child: `{ parent }` plus the component's own `dependsOn`, and any more.
 * Pulumi does not make children wait for what their parent component depends on, so a component that
 * must come after the preflight (or after the queue) hands that ordering down to each child itself.
 */
export function childOf(
  parent: pulumi.ComponentResource,
  opts: pulumi.ComponentResourceOptions | undefined,
  more: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions {
  return { ...more, parent, dependsOn: [...asList(opts?.dependsOn), ...asList(more.dependsOn)] };
}
