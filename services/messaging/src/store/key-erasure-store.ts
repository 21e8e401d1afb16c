import { sql, type Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { KeyErasure } from "../domain/admin-service.js";
import { keyErasedEvent } from "../events/key-erasure.js";
import type { MessagingDatabase } from "./database.js";
import type { Keyring } from "./keyring.js";

/**
 * The audit row of one erasure. It lists the keys just erased and any key of
 * the business erased before without a row of its own (an erasure whose
 * recording failed is accounted for by the next one).
 */
export async function recordKeyErasure(db: Kysely<MessagingDatabase>, e: KeyErasure): Promise<void> {
  await sql`
    INSERT INTO business_key_erasure (business_id, key_ids, erased_by, reason, erased_at)
    SELECT ${e.businessId}, coalesce(array_agg(DISTINCT k.key_id ORDER BY k.key_id) FILTER (WHERE k.key_id IS NOT NULL), '{}'), ${e.erasedBy}, ${e.reason}, ${e.at}
    FROM (
      SELECT key_id FROM business_key
      WHERE business_id = ${e.businessId} AND erased_at IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM business_key_erasure r WHERE r.business_id = ${e.businessId} AND business_key.key_id = ANY (r.key_ids))
      UNION ALL SELECT unnest(${sql.val(e.keyIds)}::integer[])
    ) k`.execute(db);
}

/**
 * Erases a business's keys (keyring.ts) with its audit row and the
 * BusinessKeyErased event in the same transaction: the event reaches every
 * replica's durable consumer (events/key-erasure.ts), the row says who and why.
 */
export function eraseBusinessKeys(
  keyring: Keyring,
  enqueue: (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>,
  e: Omit<KeyErasure, "keyIds">,
): Promise<number[]> {
  return keyring.erase(e.businessId, async (trx, keyIds) => {
    await enqueue(trx, [keyErasedEvent(e.businessId, keyIds, e.at)]);
    await recordKeyErasure(trx, { ...e, keyIds });
  });
}
