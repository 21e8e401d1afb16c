import { sql, type Kysely } from "kysely";

/*
 * GetAnalytics reads one number's (or the business-wide '') rows of a range
 * of days: an index in that order, carrying the value, answers it from the
 * index alone instead of skipping the other numbers' rows of each day.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS analytics_day_by_number ON analytics_day (business_id, phone_number_id, day, metric) INCLUDE (value)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS analytics_day_by_number`.execute(db);
}
