import { Cron } from "croner";

/**
 * Cron schedules, evaluated by croner. One place decides what a valid schedule is and when its next
 * slot falls, so `khctl workflow create` and the dispatcher agree.
 *
 * Accepted: 5 fields (`minute hour day-of-month month day-of-week`) or 6 fields (seconds first), plus
 * croner's nicknames (`@hourly`, `@daily`, ...). Day-of-month and day-of-week combine with OR, as in
 * Vixie cron. Time zones are IANA names (`UTC`, `Europe/Berlin`); slots follow the zone's wall clock,
 * including across DST changes.
 */

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

export interface Schedule {
  /** The cron expression, trimmed. */
  readonly cron: string;
  /** IANA time zone name. */
  readonly timezone: string;
}

/** True when the runtime knows `timezone` as an IANA time zone. */
export function isValidTimeZone(timezone: string): boolean {
  if (!timezone.trim()) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

function compile(schedule: Schedule): Cron {
  // croner writes defaults into the options object it is given, so pass a fresh one each time.
  return new Cron(schedule.cron, { timezone: schedule.timezone, mode: "5-or-6-parts", paused: true });
}

/**
 * Checks a cron expression and time zone; returns the normalised schedule or throws ScheduleError
 * with one line naming the bad part, e.g. `invalid cron "61 * * * *": Invalid value for minute: 61`.
 * A pattern that can never fire (`0 0 30 2 *`) is rejected too.
 */
export function validateSchedule(cron: string, timezone = "UTC"): Schedule {
  const schedule = { cron: cron.trim().replace(/\s+/g, " "), timezone: timezone.trim() };
  if (!schedule.cron) throw new ScheduleError("cron expression is empty");
  const fields = schedule.cron.split(" ").length;
  if (!schedule.cron.startsWith("@") && fields !== 5 && fields !== 6) {
    throw new ScheduleError(
      `invalid cron "${cron}": has ${fields} field(s); use 5 (minute hour day month weekday) or 6 (seconds first)`,
    );
  }
  if (!isValidTimeZone(schedule.timezone)) {
    throw new ScheduleError(
      `unknown time zone "${timezone}" (use an IANA name such as "UTC" or "Europe/Berlin")`,
    );
  }
  let job: Cron;
  try {
    job = compile(schedule);
  } catch (error) {
    const detail = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, "") : String(error);
    throw new ScheduleError(`invalid cron "${cron}": ${detail}`);
  }
  if (job.nextRun(new Date()) === null) {
    throw new ScheduleError(`cron "${cron}" never fires`);
  }
  return schedule;
}

/**
 * The first slot of the schedule strictly after `date`, or null when it never fires again.
 * Throws ScheduleError for an invalid schedule.
 */
export function nextSlotAfter(cron: string, timezone: string, date: Date): Date | null {
  const schedule = validateSchedule(cron, timezone);
  return compile(schedule).nextRun(date);
}
