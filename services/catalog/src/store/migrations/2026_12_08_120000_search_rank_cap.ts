import { sql, type Kysely } from "kysely";

/**
 * A text query ranks at most a capped number of matches, taken in the
 * order the scan finds them; `seq` numbers product_search rows as they are
 * inserted (an update keeps it), so later pages of a query skip rows
 * inserted after its first page and see the same candidates. No parallel
 * scans of product_search: workers would hand rows over in any order.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`ALTER TABLE product_search ADD COLUMN IF NOT EXISTS seq bigserial`.execute(db);
  await sql`ALTER TABLE product_search SET (parallel_workers = 0)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE product_search RESET (parallel_workers)`.execute(db);
  await sql`ALTER TABLE product_search DROP COLUMN IF EXISTS seq`.execute(db);
}
