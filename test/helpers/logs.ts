import { Writable } from "node:stream";
import { type Logger, pino } from "pino";

/** A pino logger whose lines (JSON text, one per entry) are kept in `lines`, for tests that read the logs. */
export function capturedLogger(level = "debug"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, lines };
}
