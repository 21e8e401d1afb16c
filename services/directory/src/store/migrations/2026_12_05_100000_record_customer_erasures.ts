import { sql, type Kysely } from "kysely";

/*
 * Customers erased by messaging (kontor.messaging.customer.erased.v1): one
 * row per customer, what directory removed and when. An erased customer's
 * follows are gone and it cannot follow again.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS customer_erasure (
      customer_id text PRIMARY KEY,
      erased_at timestamptz NOT NULL,
      follows_removed integer NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS customer_erasure`.execute(db);
}
