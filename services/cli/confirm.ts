import { createInterface } from "node:readline/promises";
import { CliError } from "./errors.js";

/**
 * Asking before a command destroys something: on a terminal the question is asked (yes only for
 * "y" or "yes"); with no terminal to ask on (a script, a pipe) the command needs `--yes`, so a script
 * never hangs on a question nobody sees and never deletes by accident.
 */
export async function confirm(
  question: string,
  options: { readonly yes?: boolean; readonly flag?: string },
): Promise<boolean> {
  if (options.yes) return true;
  const flag = options.flag ?? "--yes";
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new CliError(
      `${question.replace(/\?$/, "")}: no terminal to ask on, so give ${flag} to confirm`,
      2,
    );
  }
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await readline.question(`${question} [y/N] `);
    return /^(y|yes)$/i.test(answer.trim());
  } finally {
    readline.close();
  }
}
