import { CustomerErased } from "@kontor/proto/messaging/v1/events";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { MessagingDatabase } from "../store/database.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

/** One erasure per customer, one event id: an outbox re-publish is deduped by NATS, a consumer's `once` by it. */
export const customerErasedEventId = (customerId: string) => `${customerId}:erased`;

/** kontor.messaging.customer.erased.v1, written through the outbox in the erasing transaction. */
export function customerErasedEvent(customerId: string, at: Date): OutboxEvent {
  const eventId = customerErasedEventId(customerId);
  return {
    eventId,
    subject: subjects.customerErased,
    payload: CustomerErased.encode({ meta: { eventId, occurredAt: at, businessId: "" }, customerId, erasedAt: at }).finish(),
  };
}

/** This replica's own durable (replica-consumer.ts): every replica forgets every erased customer, and a restart replays them. */
export function customerErasureDurable(): string {
  return replicaDurable("customer-erasure");
}

/** What a replica does when it hears of an erasure (the erasure use case's `forget`). */
export type ForgetErased = (customerId: string) => Promise<void>;

/**
 * Every replica's copy of every customer erasure: it drops the customer from
 * its caches (sends to and from it are refused as not found) and removes the
 * bodies of messages it committed for the customer before it heard. Both are
 * idempotent, so redeliveries and replays need no dedupe table.
 */
export function registerCustomerErasureConsumer(rt: Runtime<MessagingDatabase>, forget: ForgetErased, durable = customerErasureDurable()): void {
  rt.consume<CustomerErased>({
    durable,
    domain: "messaging",
    subject: subjects.customerErased,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => CustomerErased.decode(data),
    async handle(event) {
      if (!event.customerId) return "term";
      await forget(event.customerId);
      rt.log.info({ customer_id: event.customerId, event_id: event.meta?.eventId }, "customer erased: forgotten");
      return "ack";
    },
  });
}
