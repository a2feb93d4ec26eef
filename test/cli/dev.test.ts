import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createPool } from "../../services/db/pool.js";
import { createWorkflow } from "../../services/db/workflows.js";
import { checkoutId, dataBaseDir, defaultDataDir } from "../../services/dev/data-dir.js";
import { DEV_STATE_FILE, type DevState, TERMINALS_DIR } from "../../services/dev/instance.js";
import { validateWorkflow } from "../../services/workflow/definition.js";
import { spawnCli } from "../helpers/cli-process.js";
import { describeProcess, listProcesses } from "../helpers/processes.js";
import { createTempDir } from "../helpers/temp.js";
import { scaled, until, within } from "../helpers/wait.js";
import { action, edges, trigger, workflow } from "../workflow/fixtures.js";

const dataDir = await createTempDir("kh-dev");
/** Any free port for each of dev's servers: never the stable defaults a user's npm start may hold. */
const FREE_PORTS = ["--port", "0", "--sqs-port", "0", "--console-port", "0", "--demo-api-port", "0"];

/** Processes whose command line mentions the dir: a Postgres left running would show up here. */
async function processesUsing(dir: string): Promise<string[]> {
  return (await listProcesses())
    .filter((info) => info.argv.some((arg) => arg.includes(dir)))
    .map(describeProcess);
}

/** A second terminal of the same checkout: no connection settings, only the data dir dev uses. */
const secondTerminal = {
  KH_DATA_DIR: dataDir,
  DATABASE_URL: undefined,
  SQS_QUEUE_URL: undefined,
  AWS_ENDPOINT_URL: undefined,
};

describe("khctl dev --demo (the real CLI process)", () => {
  it("alone: on a throw-away data dir that is gone afterwards; the data dir in use is not touched", async () => {
    const result = await spawnCli(["dev", "--demo"], secondTerminal).result;
    expect(result.stderr).not.toMatch(/khctl:/);
    expect(result.code).toBe(0);
    const throwaway = /data\s+(\S+)\/postgres/.exec(result.stdout)?.[1] as string;
    expect(path.basename(throwaway)).toMatch(/^kh-demo-/);
    expect(result.stdout).toMatch(/Status\s+success/);
    expect(existsSync(throwaway)).toBe(false);
    expect(await readdir(dataDir)).toEqual([]);
    expect(await processesUsing(throwaway)).toEqual([]);
  });

  it("--data-dir: seeds the examples there, runs the manual one; a dev.json a dead dev left is taken over", async () => {
    // The state file of a dev that died: its pid is a process that has exited.
    const dead = spawn(process.execPath, ["-e", "0"]);
    await once(dead, "exit");
    const stale: DevState = { pid: dead.pid as number, startedAt: "", dataDir, state: "running" };
    await writeFile(path.join(dataDir, DEV_STATE_FILE), JSON.stringify(stale));

    const result = await spawnCli(["dev", "--demo", "--data-dir", dataDir], {}).result;
    expect(result.stderr).not.toMatch(/khctl:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("seeded just now");
    expect(result.stdout).toContain(`${dataDir}/postgres`);
    expect(result.stdout).toMatch(/Steps\s+3\/3/);
    expect(result.stdout).toMatch(/greet\s+│ Greet\s+│ HTTP Request │ success/);
    expect(existsSync(path.join(dataDir, DEV_STATE_FILE))).toBe(false);
    expect(await processesUsing(dataDir)).toEqual([]);
  });
});

/** The lines of `text` that are JSON objects (a pino record written as it is). */
const jsonLines = (text: string) =>
  text.split("\n").filter((line) => {
    try {
      return typeof JSON.parse(line) === "object";
    } catch {
      return false;
    }
  });

describe("khctl dev's log records (the real CLI process, stderr a pipe, not a terminal)", () => {
  it("are human lines in the layout of its other lines, never raw JSON; LOG_FORMAT=json keeps JSON", async () => {
    // LOG_LEVEL=debug: Postgres's own messages, the dispatcher's and executor's records all come out.
    const human = await spawnCli(["dev", "--demo"], { ...secondTerminal, LOG_LEVEL: "debug" }).result;
    expect(human.code).toBe(0);
    expect(jsonLines(human.stderr)).toEqual([]);
    expect(jsonLines(human.stdout)).toEqual([]);
    expect(human.stderr).toMatch(/^\d\d:\d\d:\d\d {2}debug {5}dev: \S/m);

    const json = await spawnCli(["dev", "--demo"], {
      ...secondTerminal,
      LOG_LEVEL: "debug",
      LOG_FORMAT: "json",
    }).result;
    expect(json.code).toBe(0);
    expect(jsonLines(json.stderr).length).toBeGreaterThan(0);
    expect(JSON.parse(jsonLines(json.stderr)[0] as string)).toMatchObject({ service: "dev", level: 20 });
  });
});

describe("khctl dev running, and a second terminal", () => {
  it(
    "owns its data dir; other khctl commands find it; missed slots are one line each; SIGINT stops it all",
    async () => {
      // A port that is taken: dev falls back to a free one and says so.
      const blocker = net.createServer().listen(0, "127.0.0.1");
      await once(blocker, "listening");
      const taken = (blocker.address() as net.AddressInfo).port;
      const dev = spawnCli(
        ["dev", ...FREE_PORTS.slice(0, 6), "--demo-api-port", String(taken), "--interval", "1"],
        { ...secondTerminal },
      );
      try {
        await dev.waitForOutput("Waiting for the next minute", 30_000);
        const banner = dev.output("stdout");
        expect(banner).not.toContain("seeded just now");
        expect(banner).toContain(`notice     demo API: port ${taken} is taken; using `);
        const state = JSON.parse(await readFile(path.join(dataDir, DEV_STATE_FILE), "utf8")) as DevState;
        const { postgres, sqs, demoApi, console: consolePort } = state.connection?.ports ?? {};
        const holder = `pid ${state.pid}, postgres ${postgres}, sqs ${sqs}, demo API ${demoApi}, console ${consolePort}`;
        // The banner names the web console, which serves this dev's pipeline (its health: this dev's status).
        const consoleUrl = `http://127.0.0.1:${consolePort}`;
        expect(banner).toContain(`  console    ${consoleUrl}  (`);
        expect(state.connection?.console).toBe(consoleUrl);
        // Its first heartbeat is written just after the banner.
        await until("the console's health page showing every part up", async () => {
          const health = await fetch(`${consoleUrl}/health`);
          return health.status === 200 && (await health.text()).includes("Every required part is up.");
        });

        // One dev per data dir: a second one and --reset are refused, naming the running one.
        const second = await spawnCli(["dev", ...FREE_PORTS], secondTerminal).result;
        expect(second.code).toBe(1);
        expect(second.stderr).toBe(
          `khctl: khctl dev is already running on ${dataDir} (${holder}): use it (khctl commands of this checkout find it by themselves), or stop it first (Ctrl-C in its terminal, or kill ${state.pid})\n`,
        );
        const reset = await spawnCli(["dev", "--reset", ...FREE_PORTS], secondTerminal).result;
        expect(reset.code).toBe(1);
        expect(reset.stderr).toMatch(/^khctl: --reset would delete the data of the khctl dev running on /);
        expect(existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);
        // --demo alone works meanwhile (a throw-away data dir, free ports).
        expect((await spawnCli(["dev", "--demo"], secondTerminal).result).code).toBe(0);

        // A second terminal with no exports: trigger by name, and status, find this dev.
        const triggered = await spawnCli(["trigger", "Manual: say hello", "--wait"], secondTerminal).result;
        expect(triggered.code).toBe(0);
        expect(triggered.stderr).toContain(`khctl: using khctl dev on ${dataDir} (${holder})\n`);
        expect(triggered.stdout).toMatch(/Status\s+success/);
        // khctl console in a second terminal finds this dev too, and serves its workflows.
        const web = spawnCli(["console", "--port", "0"], secondTerminal);
        try {
          await web.waitForOutput("Ctrl-C stops it.");
          const url = /KeeperHub console: (http:\/\/127\.0\.0\.1:\d+) {2}\(khctl dev on /.exec(
            web.output("stdout"),
          )?.[1];
          expect(url, web.output()).toBeDefined();
          expect(await (await fetch(`${url}/workflows`)).text()).toContain("Manual: say hello");
        } finally {
          web.kill("SIGINT");
        }
        const webResult = await within(web.result, 10_000, "khctl console stopping after SIGINT");
        expect(webResult.code).toBe(0);
        // Said once per terminal: this test's processes share one session (one terminal), so the console,
        // started after trigger, found the dev without saying so again; --verbose says it every time,
        // and a process in a session of its own (another terminal) is told once too.
        expect(webResult.stderr).not.toContain("using khctl dev");
        const usingLine = `khctl: using khctl dev on ${dataDir} (${holder})\n`;
        const verbose = await spawnCli(["workflow", "list", "--verbose"], secondTerminal).result;
        expect(verbose.code).toBe(0);
        expect(verbose.stderr).toBe(usingLine);
        const otherTerminal = () => spawnCli(["workflow", "list"], secondTerminal, { detached: true }).result;
        expect((await otherTerminal()).stderr).toBe(usingLine);
        expect((await otherTerminal()).stderr).toBe(usingLine); // a new session each time: a new terminal
        const quiet = await spawnCli(["workflow", "list"], secondTerminal).result;
        expect(quiet).toMatchObject({ code: 0, stderr: "" });
        expect(quiet.stdout).toContain("Manual: say hello");
        // The marks: one for this test's terminal, one for each of the two others.
        expect(await readdir(path.join(dataDir, TERMINALS_DIR))).toHaveLength(3);

        const status = await spawnCli(["status", "--json"], secondTerminal).result;
        expect(status.code).toBe(0);
        const report = JSON.parse(status.stdout);
        expect(report.profile).toBe("embedded");
        expect(report.down).toEqual([]);
        expect(report.parts.map((part: { name: string }) => part.name)).toEqual([
          "dev",
          "postgres",
          "queue",
          "dispatcher",
          "executor",
          "executions",
        ]);

        // Missed slots: one every-minute schedule three minutes behind (two slots superseded by the
        // latest), one yearly schedule whose every missed slot is older than the catch-up window.
        const pool = createPool(state.connection?.databaseUrl as string);
        try {
          const definition = (name: string) =>
            validateWorkflow(
              workflow([trigger(), action("c", "Condition", { condition: "true" })], edges("t->c"), name),
            );
          const minute = 60_000;
          const behind = new Date(Math.floor(Date.now() / minute) * minute - 3 * minute);
          await createWorkflow(pool, {
            definition: definition("three behind"),
            schedule: { cron: "* * * * *", timezone: "UTC", nextRunAt: behind },
          });
          await createWorkflow(pool, {
            definition: definition("years behind"),
            schedule: { cron: "0 0 1 1 *", timezone: "UTC", nextRunAt: new Date("2020-01-01T00:00:00Z") },
          });
        } finally {
          await pool.end();
        }
        await dev.waitForOutput('of "years behind"');
        await dev.waitForOutput('of "three behind"');
        const lines = dev.output("stdout").split("\n");
        const skips = lines.filter((line) => / skip /.test(line));
        expect(skips).toHaveLength(2);
        expect(skips.find((line) => line.includes("three behind"))).toMatch(
          /skip\s+\d missed slots of "three behind" \(from \d\d:\d\d:00\): superseded by the \d\d:\d\d:00 slot, which runs now$/,
        );
        expect(skips.find((line) => line.includes("years behind"))).toMatch(
          /skip\s+\d+ missed slots of "years behind" \(from \d\d:\d\d:\d\d\): older than the catch-up window; next slot \d{4}-01-01T00:00:00.000Z$/,
        );
        // Not a second time as a log line.
        expect(dev.output("stderr")).not.toContain("missed slots");
      } finally {
        dev.kill("SIGINT");
        blocker.close();
      }
      const result = await within(dev.result, 25_000, "dev stopping after SIGINT");
      expect(result.stderr).toContain("stopped.");
      expect(result.code).toBe(0);
      expect(existsSync(path.join(dataDir, DEV_STATE_FILE))).toBe(false);
      expect(existsSync(path.join(dataDir, TERMINALS_DIR))).toBe(false);
      await until(
        "no process left on the data dir",
        async () => (await processesUsing(dataDir)).length === 0,
      );
    },
    scaled(120_000),
  );

  it("console with no dev running and no DATABASE_URL: one line saying what to do, exit 1", async () => {
    const empty = path.join(dataDir, "no-console");
    await mkdir(empty);
    const result = await spawnCli(["console"], { ...secondTerminal, KH_DATA_DIR: empty }).result;
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "khctl: DATABASE_URL is not set and no khctl dev runs in this checkout: start one (npm start), or export DATABASE_URL=$(pulumi stack output databaseUrl --show-secrets)\n",
    );
  });

  it("status --profile embedded with no dev running: the dev part is down, exit 1", async () => {
    const empty = path.join(dataDir, "none");
    await mkdir(empty);
    const result = await spawnCli(["status", "--profile", "embedded"], {
      ...secondTerminal,
      KH_DATA_DIR: empty,
    }).result;
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      `DOWN dev         no khctl dev is running on ${empty} (npm start, or khctl dev)`,
    );
  });
});

describe("the default data dir", () => {
  it("is per checkout: KH_DATA_DIR, else the base dir and the checkout's folder name and path hash", () => {
    expect(defaultDataDir({ KH_DATA_DIR: "/x/y" })).toBe("/x/y");
    expect(defaultDataDir({})).toBe(path.join(dataBaseDir({}), checkoutId()));
    expect(checkoutId("/a/keeperhub-hybrid")).toMatch(/^keeperhub-hybrid-[0-9a-f]{8}$/);
    expect(checkoutId("/a/keeperhub-hybrid")).not.toBe(checkoutId("/b/keeperhub-hybrid"));
  });
});
