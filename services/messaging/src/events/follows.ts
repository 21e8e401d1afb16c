import { FollowChanged } from "@kontor/proto/directory/v1/events";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { FollowChange, FollowStore } from "../store/follow-store.js";
import type { MessagingDatabase } from "../store/database.js";
import { directorySubjects } from "./subjects.js";

export const FOLLOWS_CONSUMER = "messaging-directory-follows";

/** The change an event states; undefined when it names no pair (terminated). */
export function decodeFollow(data: Uint8Array): FollowChange | undefined {
  const e = FollowChanged.decode(data);
  const eventId = e.meta?.eventId ?? "";
  const at = e.meta?.occurredAt;
  if (!eventId || !at || !e.businessId || !e.customerId || e.customerId.length > 128 || e.businessId.length > 128) return undefined;
  return { eventId, businessId: e.businessId, customerId: e.customerId, following: e.following, at };
}

/**
 * Keeps who follows which business from directory's follow.changed events
 * (one consumer the replicas share), for broadcasts to followers. Applying
 * is idempotent and order-proof (the store keeps each pair's latest change),
 * so redeliveries, replays and events out of order end in directory's state.
 */
export function registerFollowConsumer(rt: Runtime<MessagingDatabase>, store: Pick<FollowStore, "apply">): void {
  rt.consume<FollowChange | undefined>({
    durable: FOLLOWS_CONSUMER,
    domain: "directory",
    subject: directorySubjects.followChanged,
    decode: decodeFollow,
    async handle(change) {
      if (!change) return "term";
      await store.apply(change);
      return "ack";
    },
  });
}
