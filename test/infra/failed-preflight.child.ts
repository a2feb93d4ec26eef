/**
 * Run by failed-preflight.test.ts and bench/stack-preview.ts in a process of its own, as Pulumi runs the
 * program (node --import tsx, the entry imported, its default export awaited), under mocks whose machine has
 * Docker down. Prints the program's error as JSON on stdout, and on stderr, at exit, how long after the
 * doctor's answer the process ended. Nothing is declared, so the mocks need no resource.
 */
import * as pulumi from "@pulumi/pulumi";

const DOCKER_DOWN = JSON.stringify({
  ok: false,
  checks: [
    {
      name: "docker",
      ok: false,
      required: true,
      message: "Docker is not reachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock",
      fix: "start Docker",
    },
  ],
});

let answeredAt = 0;
await pulumi.runtime.setMocks(
  {
    newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
    call: (args) => {
      answeredAt = performance.now();
      return { ...args.inputs, stdout: DOCKER_DOWN, stderr: "" };
    },
  },
  "keeperhub",
  process.argv[2] ?? "local",
  false,
);
process.on("exit", () => {
  process.stderr.write(`exited ${Math.round(performance.now() - answeredAt)} ms after the doctor's answer\n`);
});
const entry = new URL("../../infra/index.ts", import.meta.url).href;
const program = (await import(entry)) as { default: () => Promise<unknown> };
try {
  await program.default();
  process.stdout.write(JSON.stringify({ error: null }));
} catch (error) {
  process.stdout.write(JSON.stringify({ name: (error as Error).name, message: (error as Error).message }));
}
