import { sql, type Kysely } from "kysely";
import type { MessagingDatabase } from "./database.js";
import type { CustomerRow } from "./tables.js";

export async function upsertCustomer(
  trx: Kysely<MessagingDatabase>,
  c: { id: string; e164: string | undefined; profileName: string | undefined; readReceipts: boolean | undefined; locale: string | undefined },
): Promise<{ row: CustomerRow; created: boolean }> {
  const existing = await trx.selectFrom("customer").selectAll().where("id", "=", c.id).forUpdate().executeTakeFirst();
  if (!existing) {
    const row = await trx
      .insertInto("customer")
      .values({ id: c.id, e164: c.e164 ?? "", profile_name: c.profileName ?? "", read_receipts: c.readReceipts ?? true, locale: c.locale ?? "" })
      .returningAll()
      .executeTakeFirstOrThrow();
    await sql`INSERT INTO inbox (participant) VALUES (${`c_${c.id}`}) ON CONFLICT DO NOTHING`.execute(trx);
    return { row, created: true };
  }
  const row = await trx
    .updateTable("customer")
    .set({
      ...(c.e164 !== undefined ? { e164: c.e164 } : {}),
      ...(c.profileName !== undefined ? { profile_name: c.profileName } : {}),
      ...(c.readReceipts !== undefined ? { read_receipts: c.readReceipts } : {}),
      ...(c.locale !== undefined ? { locale: c.locale } : {}),
      updated_at: new Date(),
    })
    .where("id", "=", c.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, created: false };
}

export async function findCustomer(db: Kysely<MessagingDatabase>, by: { id: string } | { e164: string }): Promise<CustomerRow | undefined> {
  const q = db.selectFrom("customer").selectAll();
  return ("id" in by ? q.where("id", "=", by.id) : q.where("e164", "=", by.e164)).executeTakeFirst();
}
