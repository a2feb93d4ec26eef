import { backoffMs } from "../core/backoff.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Queryable } from "../db/pool.js";

/**
 * Whether the intake may receive, as far as the database goes. After a message failed because the
 * database could not be reached, nothing more is received until a probe (`SELECT 1`, with growing
 * pauses) succeeds: messages keep their receive counts, so a database outage does not spend the queue's
 * redrive budget and send every waiting message to the DLQ.
 */
export class DatabaseGate {
  private down = false;
  private failures = 0;
  private nextProbeAt = 0;

  constructor(
    private readonly db: Queryable,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isDown(): boolean {
    return this.down;
  }

  markDown(error: unknown): void {
    if (this.down) return;
    this.down = true;
    this.failures = 0;
    this.nextProbeAt = this.now();
    this.logger.warn(
      { err: errorMessage(error) },
      "database unreachable: receiving nothing until it answers",
    );
  }

  /** True while the database is up; while down, probes it when a probe is due and says whether it is back. */
  async allowsReceiving(): Promise<boolean> {
    if (!this.down) return true;
    if (this.now() < this.nextProbeAt) return false;
    try {
      await this.db.query("SELECT 1");
    } catch {
      this.nextProbeAt =
        this.now() + Math.max(500, backoffMs(this.failures++, { baseMs: 1_000, maxMs: 30_000 }));
      return false;
    }
    this.down = false;
    this.logger.info("database reachable again: receiving");
    return true;
  }
}
