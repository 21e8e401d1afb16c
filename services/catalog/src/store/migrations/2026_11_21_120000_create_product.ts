import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("product")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("retailer_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("price_minor", "bigint", (c) => c.notNull().check(sql`price_minor >= 0`))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("image_url", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("visible", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("product_retailer_id_key", ["business_id", "retailer_id"])
    .execute();
  await db.schema.createIndex("product_business_created_idx").ifNotExists().on("product").columns(["business_id", "created_at", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("product").ifExists().execute();
}
