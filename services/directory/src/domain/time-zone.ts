/**
 * Wall-clock arithmetic in IANA time zones with the runtime's time zone
 * database (Intl). Local days are counted as "day numbers" (days since
 * 1970-01-01 of the local calendar) and local times as minutes from local
 * midnight, so schedules can be evaluated without floating offsets.
 */

const MINUTE = 60_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** True when the runtime knows this IANA zone name (e.g. "Europe/Berlin"). */
export function isValidTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  /** Days since 1970-01-01 in the local calendar. */
  day: number;
  /** Minutes since local midnight, 0..1439. */
  minute: number;
  /** ISO weekday, 1 = Monday … 7 = Sunday. */
  weekday: number;
}

/** Local wall-clock milliseconds (as if the wall clock were UTC). */
function wallMs(instantMs: number, tz: string): number {
  const parts = formatter(tz).formatToParts(new Date(instantMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
}

export function weekdayOfDay(day: number): number {
  // 1970-01-01 was a Thursday (ISO 4).
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

export function localTime(instant: Date, tz: string): LocalTime {
  const wall = wallMs(Math.floor(instant.getTime() / 1000) * 1000, tz);
  const day = Math.floor(wall / DAY_MS);
  const minute = Math.floor((wall - day * DAY_MS) / MINUTE);
  return { day, minute, weekday: weekdayOfDay(day) };
}

/** The zone's offset from UTC at an instant, in ms. */
export function offsetMs(instantMs: number, tz: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallMs(whole, tz) - whole;
}

/**
 * The instant a local wall time happens. Like Temporal's "compatible"
 * disambiguation: a time repeated by a fall-back transition resolves to the
 * earlier instant; a time skipped by a spring-forward gap moves forward by the
 * gap length (02:30 in a 02:00→03:00 gap becomes 03:30).
 */
export function instantOf(day: number, minute: number, tz: string): Date {
  const naive = day * DAY_MS + minute * MINUTE;
  const before = offsetMs(naive - 12 * 3600_000, tz);
  const after = offsetMs(naive + 12 * 3600_000, tz);
  const candidates = [naive - before, naive - after].filter((t) => wallMs(t, tz) === naive);
  if (candidates.length > 0) return new Date(Math.min(...candidates));
  return new Date(naive - before);
}

/** "YYYY-MM-DD" → day number, or undefined when it is not a real date. */
export function parseDate(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

export function formatDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
