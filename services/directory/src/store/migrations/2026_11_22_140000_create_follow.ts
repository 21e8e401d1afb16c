import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await db.schema
    .createTable("follow")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.notNull().references("business.id").onDelete("cascade"))
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("followed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addPrimaryKeyConstraint("follow_pkey", ["business_id", "customer_id"])
    .execute();
  // Followers of a business, newest first (ListFollowers).
  await db.schema.createIndex("follow_business_recent_idx").ifNotExists().on("follow").columns(["business_id", "followed_at desc", "customer_id"]).execute();
  // What a customer follows, newest first (ListFollowedBusinesses).
  await db.schema.createIndex("follow_customer_recent_idx").ifNotExists().on("follow").columns(["customer_id", "followed_at desc", "business_id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("follow").ifExists().execute();
}
