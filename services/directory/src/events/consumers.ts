import type { Runtime } from "@kontor/service-kit/runtime";
import { once } from "@kontor/service-kit/nats";
import { EventEnvelope } from "@kontor/proto/directory/v1/events";
import { CustomerErased } from "@kontor/proto/messaging/v1/events";
import type { FollowService } from "../domain/follow-service.js";
import type { DirectoryDatabase } from "../store/database.js";
import { addMessageVolume } from "../store/follow-store.js";
import { consumed } from "./subjects.js";

export const MESSAGE_VOLUME_CONSUMER = "directory-message-volume";
export const CUSTOMER_ERASURE_CONSUMER = "directory-customer-erasure";

/**
 * Popularity from messaging: every inbound customer message to a business
 * adds one to its message_volume (a ranking signal). Only the event's meta
 * (event id, business id) is read, so messaging's payload can evolve freely.
 */
export function registerConsumers(rt: Runtime<DirectoryDatabase>, options: { messageVolume: boolean }, follow: Pick<FollowService, "eraseCustomer">): void {
  registerCustomerErasureConsumer(rt, follow);
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

/**
 * Customer erasure from messaging: the customer's follows are deleted (each
 * business's count drops, with FollowChanged for the audiences) and the
 * erasure is recorded in customer_erasure, once per event.
 */
function registerCustomerErasureConsumer(rt: Runtime<DirectoryDatabase>, follow: Pick<FollowService, "eraseCustomer">): void {
  rt.consume({
    durable: CUSTOMER_ERASURE_CONSUMER,
    domain: "messaging",
    subject: consumed.customerErased,
    decode: (data) => CustomerErased.decode(data),
    async handle(event) {
      const eventId = event.meta?.eventId;
      if (!eventId || !event.customerId) return "term";
      const erasedAt = event.erasedAt ?? event.meta?.occurredAt ?? new Date();
      return once(rt.db, CUSTOMER_ERASURE_CONSUMER, eventId, async (trx) => {
        const removed = await follow.eraseCustomer(trx, event.customerId, erasedAt);
        rt.log.info({ customer_id: event.customerId, follows_removed: removed, event_id: eventId }, "customer erased: follows removed");
      });
    },
  });
}
