import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("campaign")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("objective", "text", (c) => c.notNull().check(sql`objective IN ('click_to_chat', 'sponsored_message', 'display')`))
    .addColumn("status", "text", (c) => c.notNull().defaultTo("draft").check(sql`status IN ('draft', 'active', 'paused', 'ended')`))
    .addColumn("daily_budget_minor", "bigint", (c) => c.notNull().check(sql`daily_budget_minor > 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    // The flight: when the campaign may serve. A null end runs until paused or ended.
    .addColumn("flight_start_at", "timestamptz", (c) => c.notNull())
    .addColumn("flight_end_at", "timestamptz")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint("campaign_flight_check", sql`flight_end_at IS NULL OR flight_end_at > flight_start_at`)
    .execute();
  await db.schema.createIndex("campaign_business_created_idx").ifNotExists().on("campaign").columns(["business_id", "created_at", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("campaign").ifExists().execute();
}
