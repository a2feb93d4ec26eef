/**
 * One run of the Pulumi program under mocks, as a `pulumi preview` runs it (a fresh node with tsx, the entry
 * imported, every registration answered), for bench/stack-preview.ts. Prints `{ programMs, registrations }`:
 * from before @pulumi/pulumi and the program are loaded (the mocks load both) to the last registration
 * answered, so the SDK's own load is counted too (Pulumi's harness loads it before the program).
 */
const started = performance.now();
const { CLUSTER_STUB_CONFIG, runProgram } = await import("../test/infra/mocks.js");
const stack = process.argv[2] ?? "local";
// The cluster stack has required settings; the Docker stacks run on their defaults.
const run = await runProgram(stack, stack === "cluster" ? { ...CLUSTER_STUB_CONFIG } : {});
if (run.error) throw run.error;
process.stdout.write(
  JSON.stringify({ programMs: performance.now() - started, registrations: run.registrations.length }),
);
