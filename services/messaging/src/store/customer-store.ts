import { sql, type Kysely } from "kysely";
import type { Customer } from "../domain/message.js";
import type { CustomerRow } from "./customer.table.js";
import type { MessagingDatabase } from "./database.js";

function toCustomer(r: CustomerRow): Customer {
  return { id: r.id, e164: r.e164 ?? "", profileName: r.profile_name, readReceipts: r.read_receipts, locale: r.locale, createdAt: r.created_at };
}

/** Registers or updates a customer; "erased" (and nothing changes) when the id belongs to an erased customer. */
export async function upsertCustomer(
  trx: Kysely<MessagingDatabase>,
  c: { id: string; e164: string | undefined; profileName: string | undefined; readReceipts: boolean | undefined; locale: string | undefined },
): Promise<{ customer: Customer; created: boolean } | "erased"> {
  const existing = await trx.selectFrom("customer").selectAll().where("id", "=", c.id).forUpdate().executeTakeFirst();
  if (existing?.erased_at) return "erased";
  if (!existing) {
    const row = await trx
      .insertInto("customer")
      .values({ id: c.id, e164: c.e164 ?? "", profile_name: c.profileName ?? "", read_receipts: c.readReceipts ?? true, locale: c.locale ?? "" })
      .returningAll()
      .executeTakeFirstOrThrow();
    await sql`INSERT INTO inbox (participant) VALUES (${`c_${c.id}`}) ON CONFLICT DO NOTHING`.execute(trx);
    return { customer: toCustomer(row), created: true };
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
  return { customer: toCustomer(row), created: false };
}

/** Customers by ids or by numbers; erased ones are not found. */
export async function findCustomers(db: Kysely<MessagingDatabase>, by: { ids: string[] } | { e164s: string[] }): Promise<Customer[]> {
  const keys = "ids" in by ? by.ids : by.e164s;
  if (keys.length === 0) return [];
  // One index probe per key (a LATERAL fence): a batch of up to 1,000 keys must never plan as a
  // scan of every customer, which missing or stale statistics would otherwise choose.
  const { rows } =
    "ids" in by
      ? await sql<CustomerRow>`SELECT c.* FROM (SELECT DISTINCT unnest(${keys}::text[])) AS k(key) CROSS JOIN LATERAL (SELECT * FROM customer c WHERE c.id = k.key AND c.erased_at IS NULL OFFSET 0) c`.execute(db)
      : await sql<CustomerRow>`SELECT c.* FROM (SELECT DISTINCT unnest(${keys}::text[])) AS k(key) CROSS JOIN LATERAL (SELECT * FROM customer c WHERE c.e164 = k.key AND c.erased_at IS NULL OFFSET 0) c`.execute(db);
  return rows.map(toCustomer);
}

/** A customer by id or number; an erased one is not found. */
export async function findCustomer(db: Kysely<MessagingDatabase>, by: { id: string } | { e164: string }): Promise<Customer | undefined> {
  const q = db.selectFrom("customer").selectAll().where("erased_at", "is", null);
  const row = await ("id" in by ? q.where("id", "=", by.id) : q.where("e164", "=", by.e164)).executeTakeFirst();
  return row && toCustomer(row);
}
