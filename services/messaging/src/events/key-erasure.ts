import { randomUUID } from "node:crypto";
import { BusinessKeyErased } from "@kontor/proto/messaging/v1/events";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { MessagingDatabase } from "../store/database.js";
import type { Keyring } from "../store/keyring.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

/** The event the erasing replica writes through the outbox in the transaction that destroys the keys. */
export function keyErasedEvent(businessId: string, keyIds: number[], at: Date): OutboxEvent {
  const eventId = randomUUID();
  return {
    eventId,
    subject: subjects.businessKeyErased,
    payload: BusinessKeyErased.encode({ meta: { eventId, occurredAt: at, businessId }, businessId, keyIds }).finish(),
  };
}

/** This replica's own durable (replica-consumer.ts): every replica evicts every erased key, and a restart replays them. */
export function keyErasureDurable(): string {
  return replicaDurable("key-erasure");
}

/**
 * Every replica's copy of every erasure: evicts the keys and refuses the
 * business from then on. Evicting twice is harmless, so redeliveries and
 * replays need no dedupe table.
 */
export function registerKeyErasureConsumer(rt: Runtime<MessagingDatabase>, keyring: Keyring, durable = keyErasureDurable()): void {
  rt.consume<BusinessKeyErased>({
    durable,
    domain: "messaging",
    subject: subjects.businessKeyErased,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => BusinessKeyErased.decode(data),
    async handle(event) {
      if (!event.businessId) return "term";
      keyring.evict(event.businessId, event.keyIds);
      rt.log.info({ business_id: event.businessId, key_ids: event.keyIds, event_id: event.meta?.eventId }, "business key erased: evicted");
      return "ack";
    },
  });
}
