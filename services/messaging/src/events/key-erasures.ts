import type { NatsConnection } from "nats";
import type { KeyErasure } from "../domain/admin-service.js";
import { keyErasedSubject } from "./subjects.js";

/**
 * Erasures told to the other replicas over core NATS, so they forget the
 * erased keys. The payload is JSON: { businessId, keyIds, erasedBy, reason, at }.
 */
export function createKeyErasureChannel(nc: NatsConnection, prefix: string) {
  const subject = prefix + keyErasedSubject;
  return {
    announce(e: KeyErasure): void {
      nc.publish(subject, new TextEncoder().encode(JSON.stringify({ businessId: e.businessId, keyIds: e.keyIds, erasedBy: e.erasedBy, reason: e.reason, at: e.at.toISOString() })));
    },
    /** Calls `onErased` for every erasure announced (by any replica); returns the unsubscribe. */
    listen(onErased: (e: { businessId: string; keyIds: number[] }) => void): () => void {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          let e: { businessId?: unknown; keyIds?: unknown };
          try {
            e = JSON.parse(new TextDecoder().decode(msg.data)) as typeof e;
          } catch {
            return; // not ours
          }
          if (typeof e.businessId !== "string" || !Array.isArray(e.keyIds) || !e.keyIds.every((k) => Number.isInteger(k))) return;
          onErased({ businessId: e.businessId, keyIds: e.keyIds as number[] });
        },
      });
      return () => sub.unsubscribe();
    },
  };
}

export type KeyErasureChannel = ReturnType<typeof createKeyErasureChannel>;
