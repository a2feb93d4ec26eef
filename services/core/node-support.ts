/**
 * The Node.js lines khctl, the services and the Pulumi program run on. package.json `engines.node` states
 * the same range for npm (test/core/node-support.test.ts keeps the two equal). No imports: the entries
 * (cli/main.ts, infra/index.ts) load this before anything else, so an old Node hears why in one line
 * instead of failing somewhere inside a dependency.
 */

/** package.json `engines.node`. */
export const SUPPORTED_NODE_RANGE = "^22.13.0 || ^24.0.0 || >=26.0.0";

/** The same range as data: each line's lowest release, and whether later majors are in too. */
const SUPPORTED_LINES: readonly { major: number; minor: number; andLater?: true }[] = [
  { major: 22, minor: 13 },
  { major: 24, minor: 0 },
  { major: 26, minor: 0, andLater: true },
];

/** Whether Node `version` ("24.22.3", "v22.12.0") is in SUPPORTED_NODE_RANGE. */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number);
  return SUPPORTED_LINES.some(
    (line) => (major === line.major && minor >= line.minor) || (line.andLater === true && major > line.major),
  );
}

/** The one line an unsupported Node gets: which runs, which are supported, how to get one. */
export function unsupportedNodeMessage(version: string): string {
  return (
    `Node ${version.replace(/^v/, "")} is not supported: use Node 22.13 or later 22.x, 24 or 26+ ` +
    `(engines ${SUPPORTED_NODE_RANGE}); get one with \`nvm install 24\`, \`fnm use\` (reads .node-version) ` +
    "or `volta install node@24`"
  );
}

/**
 * Exits 1 with the one line when this process's Node is not supported. `who` names the program in the
 * line, as its other errors do ("khctl", "keeperhub").
 */
export function exitUnlessSupportedNode(who: string): void {
  if (isSupportedNode(process.versions.node)) return;
  process.stderr.write(`${who}: ${unsupportedNodeMessage(process.versions.node)}\n`);
  process.exit(1);
}
