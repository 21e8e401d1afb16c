import { sql, type Kysely } from "kysely";
import type { KeyErasure } from "../domain/admin-service.js";
import type { MessagingDatabase } from "./database.js";

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
