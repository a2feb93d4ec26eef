import { readFileSync } from "node:fs";

/**
 * Which terminal this process runs in, as a file name for notes said once per terminal. On Linux: the
 * process's session, which a terminal's shell leads and every command typed there joins (npx's npm and
 * the khctl it starts included), with the leader's start time, so a later terminal given the same
 * session id is a new one. Where there is no /proc: the parent process, which is the shell when khctl is
 * started through bin/khctl (through npx it is npm, new each call, so the note then comes every time).
 */
export function terminalKey(): string {
  const self = procStat("self");
  if (!self) return `parent-${process.ppid}`;
  const session = self[SESSION];
  const leaderStart = procStat(session ?? "")?.[START_TIME] ?? "gone";
  return `session-${session}-${leaderStart}`;
}

/** Indexes into a stat line's fields after the command name: session (field 6) and starttime (field 22). */
const SESSION = 3;
const START_TIME = 19;

/** /proc/<pid>/stat's fields after the command name (which is in parentheses and may hold spaces). */
function procStat(pid: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}
