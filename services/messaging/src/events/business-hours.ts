import { BusinessRegistered } from "@kontor/proto/directory/v1/events";
import type { OpeningHours as OpeningHoursPb } from "@kontor/proto/directory/v1/business";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { OpeningHours } from "../domain/tools/auto-replies.js";
import type { MessagingDatabase } from "../store/database.js";
import { directorySubjects } from "./subjects.js";

export const BUSINESS_HOURS_CONSUMER = "messaging-business-hours";

/** The hours away messages read: none when directory has no time zone for them. */
export function hoursOf(pb: OpeningHoursPb | undefined): OpeningHours | undefined {
  if (!pb || !pb.timeZone) return undefined;
  return {
    timeZone: pb.timeZone,
    weekly: pb.weekly.map((d) => ({ weekday: d.weekday, ranges: d.ranges.map((r) => ({ openMinute: r.openMinute, closeMinute: r.closeMinute })) })),
    exceptions: pb.exceptions.map((e) => ({ date: e.date, closed: e.closed, ranges: e.ranges.map((r) => ({ openMinute: r.openMinute, closeMinute: r.closeMinute })) })),
    alwaysOpen: pb.alwaysOpen,
  };
}

interface HoursEvent {
  businessId: string;
  version: number;
  hours: OpeningHours | undefined;
}

/** Registered, updated, verified and revoked all carry the snapshot as field 2 after the meta, so one decoder reads them. */
function decodeHours(data: Uint8Array, subject: string): HoursEvent | undefined {
  const carriesSnapshot = [directorySubjects.registered, directorySubjects.updated, directorySubjects.verified, directorySubjects.verificationRevoked].some((s) => subject.endsWith(s));
  if (!carriesSnapshot) return undefined;
  const snap = BusinessRegistered.decode(data).business;
  if (!snap?.businessId) return undefined;
  return { businessId: snap.businessId, version: Number(snap.version), hours: hoursOf(snap.hours) };
}

/**
 * Keeps every business's opening hours from directory's snapshots (one
 * consumer the replicas share): messaging decides away messages from its own
 * copy instead of asking directory per customer message. A snapshot older
 * than the stored one changes nothing, so redeliveries and replays are harmless.
 */
export function registerBusinessHoursConsumer(rt: Runtime<MessagingDatabase>, store: { applyHours(businessId: string, hours: OpeningHours | undefined, version: number, at: Date): Promise<void> }): void {
  rt.consume<HoursEvent | undefined>({
    durable: BUSINESS_HOURS_CONSUMER,
    domain: "directory",
    subject: directorySubjects.all,
    decode: (data, subject) => decodeHours(data, subject),
    async handle(e) {
      if (!e) return "ack";
      await store.applyHours(e.businessId, e.hours, e.version, new Date());
      return "ack";
    },
  });
}
