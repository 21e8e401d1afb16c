import { UserBlockChanged } from "@kontor/proto/messaging/v1/events";
import type { Outcome } from "@kontor/service-kit/nats";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { BlockCache, UserBlockChange } from "../domain/block-cache.js";
import type { MessagingDatabase } from "../store/database.js";
import { ABANDONED_AFTER_MS, replicaDurable } from "./replica-consumer.js";
import { subjects } from "./subjects.js";

/** kontor.messaging.user_block.changed.v1, written through the outbox with the change. */
export function userBlockChangedEvent(eventId: string, change: UserBlockChange): OutboxEvent {
  const at = new Date(change.at);
  return {
    eventId,
    subject: subjects.userBlockChanged,
    payload: UserBlockChanged.encode({
      meta: { eventId, occurredAt: at, businessId: change.businessId },
      phoneNumberId: change.phoneNumberId,
      businessId: change.businessId,
      customerId: change.customerId,
      blocked: change.blocked,
      at,
    }).finish(),
  };
}

/** The user_block.changed handler: merges into the cache (by time, so redeliveries and replays need no dedupe). */
export function userBlockChangedHandler(cache: Pick<BlockCache, "applyUser">) {
  return (event: UserBlockChanged): Outcome => {
    if (!event.meta?.eventId || !event.phoneNumberId || !event.customerId || !event.at) return "term";
    cache.applyUser({ phoneNumberId: event.phoneNumberId, customerId: event.customerId, businessId: event.businessId, blocked: event.blocked, at: event.at.getTime() });
    return "ack";
  };
}

/** This replica's own consumer of the business-side blocks (replica-consumer.ts): every replica applies every change. */
export function registerUserBlockConsumer(rt: Runtime<MessagingDatabase>, cache: Pick<BlockCache, "applyUser">, durable = replicaDurable("user-block-cache")): void {
  const onChange = userBlockChangedHandler(cache);
  rt.consume<UserBlockChanged>({
    durable,
    domain: "messaging",
    subject: subjects.userBlockChanged,
    inactiveMs: ABANDONED_AFTER_MS,
    decode: (data) => UserBlockChanged.decode(data),
    handle: async (event) => onChange(event),
  });
}
