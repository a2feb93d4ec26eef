/**
 * The services a spawner or dispatcher talks to over the network, in a process of their own as they are
 * in production (LocalStack or SQS, the Kubernetes API server): fauxqs, and with `--api-latency-ms <n>`
 * the test Kubernetes API server with n ms added to every request. Started by bench/stack.ts:
 * `node --import tsx bench/peers.ts [--api-latency-ms n]`. Prints one JSON line (`{sqsEndpoint, apiUrl}`)
 * once both listen; then answers each stdin line `count <namespace>` with `{jobs, requests}` (Jobs stored
 * in that namespace, API requests so far). Stops and exits when stdin closes.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startEmbeddedSqs } from "../services/embedded/sqs.js";
import { startK8sApiServer } from "../test/helpers/k8s-api-server.js";

const { values } = parseArgs({ options: { "api-latency-ms": { type: "string" } } });
const latency = values["api-latency-ms"];
const sqs = await startEmbeddedSqs();
const api =
  latency === undefined
    ? undefined
    : await startK8sApiServer({ latencyMs: Number(latency), createPods: false });

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [command, namespace] = line.trim().split(/\s+/);
  if (command !== "count" || !api) return void process.stdout.write(`${JSON.stringify({ error: line })}\n`);
  process.stdout.write(
    `${JSON.stringify({ jobs: api.jobs(namespace).length, requests: api.requests.length })}\n`,
  );
});
lines.on("close", async () => {
  await api?.close();
  await sqs.stop();
  process.exit(0);
});
process.stdout.write(`${JSON.stringify({ sqsEndpoint: sqs.endpoint, apiUrl: api?.url })}\n`);
