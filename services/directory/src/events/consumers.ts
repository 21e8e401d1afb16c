import type { Runtime } from "@kontor/service-kit/runtime";
import { once } from "@kontor/service-kit/nats";
import { EventEnvelope } from "@kontor/proto/directory/v1/events";
import type { DirectoryDatabase } from "../store/database.js";
import { addMessageVolume } from "../store/follow-store.js";
import { consumed } from "./subjects.js";

export const MESSAGE_VOLUME_CONSUMER = "directory-message-volume";

/**
 * Popularity from messaging: every inbound customer message to a business
 * adds one to its message_volume (a ranking signal). Only the event's meta
 * (event id, business id) is read, so messaging's payload can evolve freely.
 */
export function registerConsumers(rt: Runtime<DirectoryDatabase>, options: { messageVolume: boolean }): void {
  if (!options.messageVolume) return;
  rt.consume({
    durable: MESSAGE_VOLUME_CONSUMER,
    domain: "messaging",
    subject: consumed.messageReceived,
    decode(data) {
      const meta = EventEnvelope.decode(data).meta;
      if (!meta?.eventId) throw new Error("event has no event_id");
      return { eventId: meta.eventId, businessId: meta.businessId };
    },
    // No business (a customer-to-customer message, say): nothing to count.
    handle: async (event) => (event.businessId ? once(rt.db, MESSAGE_VOLUME_CONSUMER, event.eventId, (trx) => addMessageVolume(trx, event.businessId, 1)) : "ack"),
  });
}
