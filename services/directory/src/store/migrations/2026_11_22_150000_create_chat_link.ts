import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await db.schema
    .createTable("chat_link")
    .ifNotExists()
    .addColumn("code", "text", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull().references("business.id").onDelete("cascade"))
    .addColumn("phone_number_id", "text")
    .addColumn("prefilled_message", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("campaign", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("referral_tag", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("active", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("open_count", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .execute();
  await db.schema.createIndex("chat_link_business_idx").ifNotExists().on("chat_link").columns(["business_id", "created_at desc", "code"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("chat_link").ifExists().execute();
}
