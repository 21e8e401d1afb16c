import { sql, type Kysely } from "kysely";

/*
 * Catalog's products as messaging knows them from catalog's events: enough
 * to refuse a product message naming a product the business cannot send
 * (unknown, hidden or archived), without a call to catalog per message.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS catalog_product (
      catalog_id text NOT NULL,
      retailer_id text NOT NULL,
      business_id text NOT NULL,
      sendable boolean NOT NULL,
      version bigint NOT NULL,
      PRIMARY KEY (catalog_id, retailer_id)
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS catalog_product`.execute(db);
}
