import { sql, type Kysely } from "kysely";

/**
 * The customer's order message (messaging's message id) an order was made
 * from: unique, so a redelivered message.received event creates no second
 * order, on any replica. Cart orders have none (not indexed).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`ALTER TABLE customer_order ADD COLUMN IF NOT EXISTS source_message_id text`.execute(db);
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS customer_order_source_message_key ON customer_order (source_message_id) WHERE source_message_id IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS customer_order_source_message_key`.execute(db);
  await sql`ALTER TABLE customer_order DROP COLUMN IF EXISTS source_message_id`.execute(db);
}
