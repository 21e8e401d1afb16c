import {
  BusinessRegistered,
  BusinessUpdated,
  BusinessVerified,
  BusinessVerificationRevoked,
} from "@kontor/proto/directory/v1/events";
import type { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { DirectoryCache, BusinessNumber } from "../domain/directory.js";
import { isValidId, normalizeE164 } from "../domain/participant.js";
import type { MessagingDatabase } from "../store/database.js";
import { applySnapshot } from "../store/business-number-store.js";
import { setTemplateBusinessVerified } from "../store/template-store.js";
import { directorySubjects } from "./subjects.js";

interface DirectoryEvent {
  eventId: string;
  snapshot: BusinessSnapshot | undefined;
}

function decodeDirectory(data: Uint8Array, subject: string): DirectoryEvent {
  if (subject.endsWith(directorySubjects.registered)) {
    const e = BusinessRegistered.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business };
  }
  if (subject.endsWith(directorySubjects.updated)) {
    const e = BusinessUpdated.decode(data);
    return { eventId: e.meta?.eventId ?? "", snapshot: e.business };
  }
  if (subject.endsWith(directorySubjects.verified)) {
    const e = BusinessVerified.decode(data);
    const snapshot = e.business ? { ...e.business, verified: true, verifiedName: e.verifiedName || e.business.verifiedName } : undefined;
    return { eventId: e.meta?.eventId ?? "", snapshot };
  }
  if (subject.endsWith(directorySubjects.verificationRevoked)) {
    const e = BusinessVerificationRevoked.decode(data);
    const snapshot = e.business ? { ...e.business, verified: false, verifiedName: "" } : undefined;
    return { eventId: e.meta?.eventId ?? "", snapshot };
  }
  // Other business events (e.g. verification_rejected) carry nothing messaging mirrors.
  return { eventId: "", snapshot: undefined };
}

/** Mirrors business numbers (owner, display name, verified badge) and the template cap's verified flag from directory events. */
export function registerDirectoryConsumer(rt: Runtime<MessagingDatabase>, directory: DirectoryCache): void {
  const durable = "messaging-directory-business";
  rt.consume<DirectoryEvent>({
    durable,
    domain: "directory",
    subject: directorySubjects.all,
    decode: decodeDirectory,
    async handle(event) {
      const snap = event.snapshot;
      if (!event.eventId || !snap || !snap.businessId) return "term";
      const numbers = snap.phoneNumbers
        .map((n) => ({ phoneNumberId: n.phoneNumberId, e164: normalizeE164(n.e164) ?? "", displayName: n.displayName }))
        .filter((n) => {
          const ok = isValidId(n.phoneNumberId) && n.e164 !== "";
          if (!ok) rt.log.warn({ business_id: snap.businessId, phone_number_id: n.phoneNumberId }, "skipping a business number messaging cannot route");
          return ok;
        });
      let applied: BusinessNumber[] = [];
      const outcome = await once(rt.db, durable, event.eventId, async (trx) => {
        applied = await applySnapshot(trx, {
          businessId: snap.businessId,
          displayName: snap.displayName,
          verified: snap.verified,
          verifiedName: snap.verifiedName,
          version: Number(snap.version),
          numbers,
        });
        // The template cap follows the verified badge (250, or 6,000 verified).
        await setTemplateBusinessVerified(trx, snap.businessId, snap.verified, Number(snap.version));
      });
      for (const n of applied) directory.apply(n);
      return outcome;
    },
  });
}
