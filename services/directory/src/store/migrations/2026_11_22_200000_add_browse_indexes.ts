import { sql, type Kysely } from "kysely";

/** Browsing without words or a place: by country, or verified accounts only. */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_country_idx ON business_search (country)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_verified_idx ON business_search (created_at) WHERE verified`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS business_search_verified_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS business_search_country_idx`.execute(db);
}
