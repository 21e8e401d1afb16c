import { BusinessRegistered, BusinessUpdated, BusinessVerified, BusinessVerificationRevoked } from "@kontor/proto/directory/v1/events";
import type { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import { applyBusinessSnapshot } from "../store/directory-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { subjects } from "./subjects.js";

interface DirectoryEvent {
  eventId: string;
  snapshot: BusinessSnapshot | undefined;
}

function decode(data: Uint8Array, subject: string): DirectoryEvent {
  if (subject.endsWith(subjects.directoryRegistered)) {
    const e = BusinessRegistered.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business };
  }
  if (subject.endsWith(subjects.directoryUpdated)) {
    const e = BusinessUpdated.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business };
  }
  if (subject.endsWith(subjects.directoryVerified)) {
    const e = BusinessVerified.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business ? { ...e.business, verified: true, verifiedName: e.verifiedName || e.business.verifiedName } : undefined };
  }
  if (subject.endsWith(subjects.directoryRevoked)) {
    const e = BusinessVerificationRevoked.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business ? { ...e.business, verified: false, verifiedName: "" } : undefined };
  }
  return { eventId: "", snapshot: undefined };
}

/** Mirrors businesses and their numbers from directory: the phone-number ids Cloud API clients send from. */
export function registerDirectoryConsumer(rt: Runtime<GatewayDatabase>, numbersChanged: () => void = () => undefined): void {
  const durable = "gateway-directory-business";
  rt.consume<DirectoryEvent>({
    durable,
    domain: "directory",
    subject: subjects.directoryBusiness,
    decode,
    async handle(event) {
      const snap = event.snapshot;
      if (!event.eventId || !snap?.businessId) return "ack";
      const outcome = await once(rt.db, durable, event.eventId, async (trx) => {
        await applyBusinessSnapshot(trx, {
          businessId: snap.businessId,
          displayName: snap.displayName,
          verified: snap.verified,
          verifiedName: snap.verifiedName,
          version: Number(snap.version),
          numbers: snap.phoneNumbers.filter((n) => n.phoneNumberId && n.e164).map((n) => ({ phoneNumberId: n.phoneNumberId, e164: n.e164, displayName: n.displayName })),
        });
      });
      numbersChanged();
      return outcome;
    },
  });
}
