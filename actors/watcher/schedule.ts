import { Cron } from "croner";

export interface ScheduleProblem {
  field: "schedule" | "timezone";
  message: string;
}

export function validTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return timezone.length > 0;
  } catch {
    return false;
  }
}

/** Problems with a cron schedule and IANA timezone, or none. */
export function scheduleProblems(schedule: string, timezone: string): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  if (!validTimezone(timezone)) problems.push({ field: "timezone", message: `"${timezone}" is not an IANA timezone` });
  try {
    const cron = new Cron(schedule, { timezone: problems.length ? "UTC" : timezone, paused: true });
    if (!cron.nextRun()) problems.push({ field: "schedule", message: "the schedule never fires" });
  } catch (err) {
    problems.push({ field: "schedule", message: `invalid cron: ${(err as Error).message}` });
  }
  return problems;
}

/** The first slot strictly after `from`, read in the watcher's timezone (DST-aware), or null. */
export function nextSlot(schedule: string, timezone: string, from: Date): Date | null {
  return new Cron(schedule, { timezone, paused: true }).nextRun(from);
}
