import { sql, type Kysely } from "kysely";

/*
 * Analytics kept also for all of a business's numbers together (phone
 * number id ''), written beside each number's counts, so a business-wide
 * query reads one row per day and metric instead of summing its numbers.
 * Counts kept before this are summed into those rows once.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value)
    SELECT business_id, '', day, metric, sum(value) FROM analytics_day WHERE phone_number_id <> ''
    GROUP BY business_id, day, metric
    ON CONFLICT (business_id, day, phone_number_id, metric) DO NOTHING`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM analytics_day WHERE phone_number_id = ''`.execute(db);
}
