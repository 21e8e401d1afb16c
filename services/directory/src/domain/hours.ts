import { InvalidInput } from "@kontor/service-kit/errors";
import { formatDate, instantOf, isValidTimeZone, localTime, parseDate, weekdayOfDay } from "./time-zone.js";

/** Minutes from local midnight; close may pass 1440 for a range that runs past midnight. */
export interface TimeRange {
  openMinute: number;
  closeMinute: number;
}

export interface DayHours {
  /** ISO weekday 1 (Monday) … 7 (Sunday). */
  weekday: number;
  ranges: TimeRange[];
}

export interface HoursException {
  /** Local date "YYYY-MM-DD". */
  date: string;
  closed: boolean;
  ranges: TimeRange[];
  note: string;
}

export interface OpeningHours {
  timeZone: string;
  weekly: DayHours[];
  exceptions: HoursException[];
  alwaysOpen: boolean;
}

const DAY = 1440;
const WEEK = 7 * DAY;
const MAX_RANGES_PER_DAY = 6;
const MAX_EXCEPTIONS = 100;
const MAX_NOTE = 200;
/** Look this far ahead for the next opening (IsOpen / next_open_at). */
export const HORIZON_DAYS = 14;

function checkRange(r: TimeRange, field: string): void {
  if (!Number.isInteger(r.openMinute) || r.openMinute < 0 || r.openMinute >= DAY) {
    throw new InvalidInput(`${field}.open_minute`, "must be a minute of the day, 0..1439");
  }
  if (!Number.isInteger(r.closeMinute) || r.closeMinute <= r.openMinute) {
    throw new InvalidInput(`${field}.close_minute`, "must be after open_minute (use a value above 1440 to run past midnight)");
  }
  if (r.closeMinute - r.openMinute > DAY) throw new InvalidInput(`${field}.close_minute`, "a range may last at most 24 hours");
}

/** Ranges of one day must not overlap each other (touching is fine). */
function checkDay(ranges: TimeRange[], field: string): void {
  if (ranges.length > MAX_RANGES_PER_DAY) throw new InvalidInput(`${field}.ranges`, `at most ${MAX_RANGES_PER_DAY} ranges per day`);
  ranges.forEach((r, i) => checkRange(r, `${field}.ranges[${i}]`));
  const order = ranges.map((r, i) => ({ r, i })).sort((a, b) => a.r.openMinute - b.r.openMinute);
  for (let k = 1; k < order.length; k++) {
    const prev = order[k - 1]!;
    const cur = order[k]!;
    if (cur.r.openMinute < prev.r.closeMinute) throw new InvalidInput(`${field}.ranges[${cur.i}]`, `overlaps ranges[${prev.i}]`);
  }
}

/**
 * Validates opening hours; every problem names its field path under `field`
 * (e.g. "hours.weekly[1].ranges[0].close_minute"). Ranges that run past
 * midnight must not overlap the next day's ranges either.
 */
export function validateHours(hours: OpeningHours, field = "hours"): OpeningHours {
  if (!isValidTimeZone(hours.timeZone)) throw new InvalidInput(`${field}.time_zone`, "must be an IANA time zone such as Europe/Berlin");
  const seen = new Map<number, number>();
  hours.weekly.forEach((d, i) => {
    const f = `${field}.weekly[${i}]`;
    if (!Number.isInteger(d.weekday) || d.weekday < 1 || d.weekday > 7) throw new InvalidInput(`${f}.weekday`, "must be MONDAY..SUNDAY");
    if (seen.has(d.weekday)) throw new InvalidInput(`${f}.weekday`, `repeats weekly[${seen.get(d.weekday)}]`);
    seen.set(d.weekday, i);
    checkDay(d.ranges, f);
  });
  if (hours.alwaysOpen && hours.weekly.some((d) => d.ranges.length > 0)) {
    throw new InvalidInput(`${field}.weekly`, "must be empty when always_open is set");
  }
  // Overnight spill into the next weekday (Sunday spills into Monday).
  for (const [weekday, i] of seen) {
    const day = hours.weekly[i]!;
    const nextIndex = seen.get((weekday % 7) + 1);
    if (nextIndex === undefined) continue;
    const next = hours.weekly[nextIndex]!;
    day.ranges.forEach((r, j) => {
      if (r.closeMinute <= DAY) return;
      const k = next.ranges.findIndex((n) => n.openMinute + DAY < r.closeMinute);
      if (k >= 0) throw new InvalidInput(`${field}.weekly[${i}].ranges[${j}].close_minute`, `runs into weekly[${nextIndex}].ranges[${k}]`);
    });
  }
  if (hours.exceptions.length > MAX_EXCEPTIONS) throw new InvalidInput(`${field}.exceptions`, `at most ${MAX_EXCEPTIONS} exceptions`);
  const dates = new Map<number, number>();
  hours.exceptions.forEach((e, i) => {
    const f = `${field}.exceptions[${i}]`;
    const day = parseDate(e.date);
    if (day === undefined) throw new InvalidInput(`${f}.date`, "must be a date YYYY-MM-DD");
    if (dates.has(day)) throw new InvalidInput(`${f}.date`, `repeats exceptions[${dates.get(day)}]`);
    dates.set(day, i);
    if (e.closed && e.ranges.length > 0) throw new InvalidInput(`${f}.ranges`, "must be empty when closed is set");
    if (e.note.length > MAX_NOTE) throw new InvalidInput(`${f}.note`, `must be at most ${MAX_NOTE} characters`);
    checkDay(e.ranges, f);
  });
  // An exception's overnight range must not run into the next day's hours, nor the previous day's into it.
  const schedule = compileSchedule(hours);
  for (const [day, i] of dates) {
    for (const d of [day - 1, day]) {
      const spill = schedule.rangesStartingOn(d).filter((r) => r.closeMinute > DAY);
      const next = schedule.rangesStartingOn(d + 1);
      for (const r of spill) {
        if (next.some((n) => n.openMinute + DAY < r.closeMinute)) {
          throw new InvalidInput(`${field}.exceptions[${i}].ranges`, `hours around ${formatDate(day)} overlap across midnight`);
        }
      }
    }
  }
  return hours;
}

export interface CompiledSchedule {
  timeZone: string;
  rangesStartingOn(day: number): TimeRange[];
}

const ALWAYS: TimeRange[] = [{ openMinute: 0, closeMinute: DAY }];

/** The effective ranges that start on each local day: a dated exception replaces that day's weekly hours. */
export function compileSchedule(hours: OpeningHours): CompiledSchedule {
  const weekly = new Map<number, TimeRange[]>();
  for (const d of hours.weekly) weekly.set(d.weekday, d.ranges);
  const exceptions = new Map<number, TimeRange[]>();
  for (const e of hours.exceptions) {
    const day = parseDate(e.date);
    if (day !== undefined) exceptions.set(day, e.closed ? [] : e.ranges);
  }
  return {
    timeZone: hours.timeZone,
    rangesStartingOn(day) {
      const exc = exceptions.get(day);
      if (exc) return exc;
      if (hours.alwaysOpen) return ALWAYS;
      return weekly.get(weekdayOfDay(day)) ?? [];
    },
  };
}

export interface OpenInterval {
  start: Date;
  end: Date;
}

/** Merged opening intervals (real instants) that touch [from, to). */
export function openIntervals(hours: OpeningHours, from: Date, to: Date): OpenInterval[] {
  const schedule = compileSchedule(hours);
  const tz = hours.timeZone;
  const first = localTime(from, tz).day - 1;
  const last = localTime(to, tz).day;
  const raw: OpenInterval[] = [];
  for (let day = first; day <= last; day++) {
    for (const r of schedule.rangesStartingOn(day)) {
      const start = instantOf(day, r.openMinute, tz);
      const end = instantOf(day, r.closeMinute, tz);
      if (end > start && end > from && start < to) raw.push({ start, end });
    }
  }
  raw.sort((a, b) => a.start.getTime() - b.start.getTime());
  const merged: OpenInterval[] = [];
  for (const iv of raw) {
    const prev = merged[merged.length - 1];
    if (prev && iv.start <= prev.end) {
      if (iv.end > prev.end) prev.end = iv.end;
    } else merged.push({ ...iv });
  }
  return merged;
}

export interface OpenState {
  open: boolean;
  /** When open: when it closes (undefined when it stays open past the horizon). */
  closesAt?: Date;
  /** When closed: the next opening (undefined when none within the horizon). */
  nextOpenAt?: Date;
}

/** Exact: evaluated in the business's zone with the time zone database, exceptions and overnight ranges included. */
export function openState(hours: OpeningHours, at: Date): OpenState {
  const horizon = new Date(at.getTime() + HORIZON_DAYS * 86_400_000);
  const intervals = openIntervals(hours, new Date(at.getTime() - 2 * 86_400_000), horizon);
  const current = intervals.find((iv) => iv.start <= at && at < iv.end);
  if (current) return current.end >= horizon ? { open: true } : { open: true, closesAt: current.end };
  const next = intervals.find((iv) => iv.start > at);
  return next ? { open: false, nextOpenAt: next.start } : { open: false };
}

export function isOpenAt(hours: OpeningHours, at: Date): boolean {
  const { day, minute } = localTime(at, hours.timeZone);
  const schedule = compileSchedule(hours);
  return (
    schedule.rangesStartingOn(day).some((r) => r.openMinute <= minute && minute < r.closeMinute) ||
    schedule.rangesStartingOn(day - 1).some((r) => r.openMinute <= minute + DAY && minute + DAY < r.closeMinute)
  );
}

/** [lower, upper) integer ranges, merged and sorted. */
export type IntRanges = [number, number][];

function mergeRanges(ranges: IntRanges): IntRanges {
  const sorted = [...ranges].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: IntRanges = [];
  for (const [a, b] of sorted) {
    const prev = out[out.length - 1];
    if (prev && a <= prev[1]) prev[1] = Math.max(prev[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * What search stores to answer open_now without this code: the weekly hours
 * as local minutes-of-week (Monday 00:00 = 0, Sunday's overnight ranges wrap
 * to Monday), plus, for dated exceptions, the local-epoch-minute region they
 * affect and the exact open set inside it. The database converts now() to the
 * business's local wall time per row, so DST needs no refresh job.
 */
export interface SearchHours {
  week: IntRanges;
  exceptionRegion: IntRanges;
  exceptionOpen: IntRanges;
}

export function searchHours(hours: OpeningHours): SearchHours {
  const week: IntRanges = [];
  const weeklyRanges = hours.alwaysOpen ? [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, ranges: ALWAYS })) : hours.weekly;
  for (const d of weeklyRanges) {
    for (const r of d.ranges) {
      const start = (d.weekday - 1) * DAY + r.openMinute;
      const end = (d.weekday - 1) * DAY + r.closeMinute;
      if (end <= WEEK) week.push([start, end]);
      else {
        week.push([start, WEEK]);
        week.push([0, end - WEEK]);
      }
    }
  }
  const region: IntRanges = [];
  const open: IntRanges = [];
  const days = hours.exceptions.map((e) => parseDate(e.date)).filter((d): d is number => d !== undefined);
  if (days.length > 0) {
    const schedule = compileSchedule(hours);
    for (const day of days) region.push([day * DAY, day * DAY + 2 * DAY]);
    const merged = mergeRanges(region);
    for (const [lo, hi] of merged) {
      for (let day = Math.floor(lo / DAY) - 1; day * DAY < hi; day++) {
        for (const r of schedule.rangesStartingOn(day)) {
          const a = Math.max(lo, day * DAY + r.openMinute);
          const b = Math.min(hi, day * DAY + r.closeMinute);
          if (b > a) open.push([a, b]);
        }
      }
    }
    return { week: mergeRanges(week), exceptionRegion: merged, exceptionOpen: mergeRanges(open) };
  }
  return { week: mergeRanges(week), exceptionRegion: [], exceptionOpen: [] };
}

/** PostgreSQL multirange literal, e.g. "{[540,1080),[1980,2520)}". */
export function multirangeLiteral(ranges: IntRanges): string {
  return `{${ranges.map(([a, b]) => `[${a},${b})`).join(",")}}`;
}
