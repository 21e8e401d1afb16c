import type { OpeningHours as OpeningHoursPb } from "@kontor/proto/directory/v1/business";
import type { OpeningHours } from "../domain/hours.js";

// Proto <-> domain mapping that both rpc/ (requests, replies) and events/
// (business snapshots) need; it imports only domain/, so neither layer
// reaches into the other.

export function hoursFromPb(h: OpeningHoursPb): OpeningHours {
  return {
    timeZone: h.timeZone,
    alwaysOpen: h.alwaysOpen,
    weekly: h.weekly.map((d) => ({ weekday: d.weekday, ranges: d.ranges.map((r) => ({ openMinute: r.openMinute, closeMinute: r.closeMinute })) })),
    exceptions: h.exceptions.map((e) => ({
      date: e.date,
      closed: e.closed,
      note: e.note,
      ranges: e.ranges.map((r) => ({ openMinute: r.openMinute, closeMinute: r.closeMinute })),
    })),
  };
}

export function hoursToPb(h: OpeningHours): OpeningHoursPb {
  return {
    timeZone: h.timeZone,
    alwaysOpen: h.alwaysOpen,
    weekly: h.weekly.map((d) => ({ weekday: d.weekday, ranges: d.ranges.map((r) => ({ ...r })) })),
    exceptions: h.exceptions.map((e) => ({ date: e.date, closed: e.closed, note: e.note, ranges: e.ranges.map((r) => ({ ...r })) })),
  };
}
