/** One section of `khctl status`: what was found, or why it could not be reached. */
export interface StatusPart<T = unknown> {
  readonly name: string;
  /** A required part that is down makes `khctl status` exit 1. */
  readonly required: boolean;
  /** False when the part could not be reached or something required in it is not running. */
  readonly ok: boolean;
  /** One line: the state, or why it could not be reached and how to look further. */
  readonly summary: string;
  /** Details for people (one entry a line) and for scripts (`data`). */
  readonly lines: readonly string[];
  readonly data?: T;
}

/** A part that could not be reached: one line, and the rest of the report still shows. */
export function unreachable(name: string, required: boolean, reason: string): StatusPart<never> {
  return { name, required, ok: false, summary: reason, lines: [] };
}
