import type { Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  // The number a business sends from (directory's business events): sponsored messages go out from it.
  await db.schema
    .createTable("business_number")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.primaryKey())
    .addColumn("phone_number_id", "text", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();
  // Who follows whom (directory's follow.changed): followers-only audiences.
  await db.schema
    .createTable("follower")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("customer_id", "text", (c) => c.notNull())
    .addColumn("following", "boolean", (c) => c.notNull())
    .addColumn("changed_at", "timestamptz", (c) => c.notNull())
    .addPrimaryKeyConstraint("follower_pkey", ["business_id", "customer_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("follower").ifExists().execute();
  await db.schema.dropTable("business_number").ifExists().execute();
}
