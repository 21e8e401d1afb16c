import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  // What each campaign-day counted (impressions, clicks, sponsored messages) and what the spend ledger already holds of it:
  // the ledger is written from the difference every few seconds, not per impression batch.
  await db.schema
    .alterTable("campaign_day")
    .addColumn("impressions", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("clicks", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("messages", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("recorded_milli", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("recorded_impressions", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("recorded_clicks", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("recorded_messages", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();
  // Rows written before: their spend is in the ledger already.
  await sql`UPDATE campaign_day SET recorded_milli = spent_milli`.execute(db);
  await db.schema.createIndex("campaign_day_day_idx").ifNotExists().on("campaign_day").column("day").execute();
  // A sponsored message's price, reserved from the campaign-day's budget before the send.
  await db.schema.alterTable("sponsored_send").addColumn("cost_milli", "bigint", (c) => c.notNull().defaultTo(0)).addColumn("clicked_at", "timestamptz").execute();
  await db.schema.alterTable("spend_ledger").addColumn("messages", "integer", (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("spend_ledger").dropColumn("messages").execute();
  await db.schema.alterTable("sponsored_send").dropColumn("cost_milli").dropColumn("clicked_at").execute();
  await db.schema.dropIndex("campaign_day_day_idx").ifExists().execute();
  await db.schema
    .alterTable("campaign_day")
    .dropColumn("impressions")
    .dropColumn("clicks")
    .dropColumn("messages")
    .dropColumn("recorded_milli")
    .dropColumn("recorded_impressions")
    .dropColumn("recorded_clicks")
    .dropColumn("recorded_messages")
    .execute();
}
