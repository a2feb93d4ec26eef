/**
 * Loaded by Pulumi.yaml's nodeargs (`--import ./infra/supported-node.ts`), before Pulumi's own run harness
 * and the program: an old Node gets one line naming the versions that work, not an error from inside the SDK.
 */
import { exitUnlessSupportedNode } from "../services/core/node-support.js";

exitUnlessSupportedNode("keeperhub");
