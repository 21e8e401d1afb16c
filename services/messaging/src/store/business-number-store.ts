import { sql, type Kysely } from "kysely";
import type { BusinessNumber } from "../domain/directory.js";
import type { MessagingDatabase } from "./database.js";
import type { BusinessNumberRow } from "./business-number.table.js";

export function rowToBusinessNumber(r: BusinessNumberRow): BusinessNumber {
  return {
    phoneNumberId: r.phone_number_id,
    businessId: r.business_id,
    e164: r.e164,
    displayName: r.display_name,
    verified: r.verified,
    verifiedName: r.verified_name,
    active: r.active,
    version: Number(r.version),
  };
}

/**
 * Applies one directory snapshot: upserts its numbers (ignoring a snapshot
 * older than the stored one) and deactivates numbers it no longer lists.
 * Returns the rows as they are now.
 */
export async function applySnapshot(
  trx: Kysely<MessagingDatabase>,
  snapshot: { businessId: string; displayName: string; verified: boolean; verifiedName: string; version: number; numbers: { phoneNumberId: string; e164: string; displayName: string }[] },
): Promise<BusinessNumber[]> {
  for (const n of snapshot.numbers) {
    await sql`INSERT INTO business_number (phone_number_id, business_id, e164, display_name, verified, verified_name, active, version, updated_at)
      VALUES (${n.phoneNumberId}, ${snapshot.businessId}, ${n.e164}, ${n.displayName || snapshot.displayName}, ${snapshot.verified}, ${snapshot.verifiedName}, true, ${snapshot.version}, now())
      ON CONFLICT (phone_number_id) DO UPDATE SET business_id = EXCLUDED.business_id, e164 = EXCLUDED.e164, display_name = EXCLUDED.display_name,
        verified = EXCLUDED.verified, verified_name = EXCLUDED.verified_name, active = true, version = EXCLUDED.version, updated_at = now()
      WHERE business_number.version <= EXCLUDED.version`.execute(trx);
    await sql`INSERT INTO inbox (participant) VALUES (${`b_${n.phoneNumberId}`}) ON CONFLICT DO NOTHING`.execute(trx);
  }
  const listed = snapshot.numbers.map((n) => n.phoneNumberId);
  let q = trx
    .updateTable("business_number")
    .set({ active: false, version: String(snapshot.version), updated_at: new Date() })
    .where("business_id", "=", snapshot.businessId)
    .where("active", "=", true)
    .where(sql<boolean>`version <= ${snapshot.version}`);
  if (listed.length > 0) q = q.where("phone_number_id", "not in", listed);
  await q.execute();
  const rows = await trx.selectFrom("business_number").selectAll().where("business_id", "=", snapshot.businessId).execute();
  return rows.map(rowToBusinessNumber);
}

export async function loadBusinessNumbers(db: Kysely<MessagingDatabase>, changedSince?: Date): Promise<BusinessNumberRow[]> {
  let q = db.selectFrom("business_number").selectAll();
  if (changedSince) q = q.where("updated_at", ">=", changedSince);
  return q.execute();
}
