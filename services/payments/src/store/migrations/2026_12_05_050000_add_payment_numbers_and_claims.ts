import { sql, type Kysely } from "kysely";

/**
 * Payment numbers (pay by phone number: an E.164 number resolves to the
 * customer whose wallet receives), the index the collect-request expiry
 * sweep reads, and a lease on bank submissions so replicas share the work
 * instead of repeating it.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("payment_number")
    .ifNotExists()
    .addColumn("number", "text", (c) => c.primaryKey().check(sql`number ~ '^\\+[1-9][0-9]{6,14}$'`))
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS payment_number_customer_idx ON payment_number (customer_id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS collect_request_pending_idx ON collect_request (expires_at) WHERE state = 'pending'`.execute(db);
  await sql`ALTER TABLE bank_operation ADD COLUMN IF NOT EXISTS submit_claimed_until timestamptz`.execute(db);
}

// any: as above
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE bank_operation DROP COLUMN IF EXISTS submit_claimed_until`.execute(db);
  await sql`DROP INDEX IF EXISTS collect_request_pending_idx`.execute(db);
  await db.schema.dropTable("payment_number").ifExists().execute();
}
