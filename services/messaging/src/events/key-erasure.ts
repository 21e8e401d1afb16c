import { randomBytes, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { BusinessKeyErased } from "@kontor/proto/messaging/v1/events";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { MessagingDatabase } from "../store/database.js";
import type { Keyring } from "../store/keyring.js";
import { subjects } from "./subjects.js";

/** A consumer no client has pulled from for this long is deleted by NATS (replicas that are gone). */
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

/** The event the erasing replica writes through the outbox in the transaction that destroys the keys. */
export function keyErasedEvent(businessId: string, keyIds: number[], at: Date): OutboxEvent {
  const eventId = randomUUID();
  return {
    eventId,
    subject: subjects.businessKeyErased,
    payload: BusinessKeyErased.encode({ meta: { eventId, occurredAt: at, businessId }, businessId, keyIds }).finish(),
  };
}

/**
 * This replica's durable consumer name. Each replica needs its own (every
 * one must evict every erased key; a shared durable would hand each event to
 * one of them), and a fresh one per process: a new consumer starts at the
 * stream's first message, so a replica that starts (or restarts) replays
 * every erasure the stream still holds, besides reading each key's state
 * when it loads it. Names of replicas that are gone expire (ABANDONED_AFTER_MS).
 */
export function keyErasureDurable(): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40);
  return `messaging-key-erasure-${host}-${randomBytes(4).toString("hex")}`;
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
