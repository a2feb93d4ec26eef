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

/** Compiled schedules by expression and zone: validating and compiling cost more than a slot search. */
const compiled = new Map<string, Cron>();
const COMPILED_LIMIT = 1000;

function compiledSchedule(cron: string, timezone: string): Cron {
  const key = `${cron}\u0000${timezone}`;
  const known = compiled.get(key);
  if (known) return known;
  const job = compile(validateSchedule(cron, timezone));
  if (compiled.size >= COMPILED_LIMIT) compiled.clear();
  compiled.set(key, job);
  return job;
}

/**
 * The first slot of the schedule strictly after `date`, or null when it never fires again.
 * Throws ScheduleError for an invalid schedule.
 */
export function nextSlotAfter(cron: string, timezone: string, date: Date): Date | null {
  return compiledSchedule(cron, timezone).nextRun(date);
}

/** The next `count` slots strictly after `date`, in order (fewer when the schedule stops firing). */
export function nextSlots(cron: string, timezone: string, date: Date, count: number): Date[] {
  const slots: Date[] = [];
  for (let at: Date | null = date; slots.length < count; ) {
    at = nextSlotAfter(cron, timezone, at);
    if (!at) break;
    slots.push(at);
  }
  return slots;
}

/** Backward steps tried, at most, to find a slot the forward search also yields (see latestSlotAtOrBefore). */
const BACKWARD_TRIES = 3;

/**
 * The latest slot of the schedule at or before `date`, or null when there is none: one backward search,
 * whatever the distance from the previous slot. nextSlotAfter defines the slots; a backward result it would
 * not yield (a time zone's repeated or skipped hour) is passed over, so both searches agree on every slot.
 * Throws ScheduleError for an invalid schedule.
 */
export function latestSlotAtOrBefore(cron: string, timezone: string, date: Date): Date | null {
  const job = compiledSchedule(cron, timezone);
  // croner's previousRuns includes a run earlier in the reference's second; 1 ms on makes `date` inclusive.
  let candidate = job.previousRuns(1, new Date(date.getTime() + 1))[0] ?? null;
  for (let tries = 0; candidate && tries < BACKWARD_TRIES; tries++) {
    // Slots fall on whole seconds: the forward search from 1 s before yields the first slot >= candidate.
    const forward = job.nextRun(new Date(candidate.getTime() - 1000));
    if (forward && forward.getTime() === candidate.getTime()) return candidate;
    if (forward && forward <= date) return latestForwardFrom(job, forward, date);
    candidate = job.previousRuns(1, candidate)[0] ?? null;
  }
  return candidate && latestForwardFrom(job, candidate, date);
}

/** From a slot at or before `date`, the forward search's last slot still at or before it (a step or two). */
function latestForwardFrom(job: Cron, slot: Date, date: Date): Date {
  let latest = slot;
  for (let step = 0; step < BACKWARD_TRIES; step++) {
    const next = job.nextRun(latest);
    if (!next || next > date) break;
    latest = next;
  }
  return latest;
}
