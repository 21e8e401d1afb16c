import { sql, type Kysely } from "kysely";

// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("media")
    .ifNotExists()
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("partner_id", "text", (c) => c.notNull())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("phone_number_id", "text", (c) => c.notNull())
    .addColumn("mime_type", "text", (c) => c.notNull())
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("file_size", "bigint", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("storage_key", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("media_business_idx").ifNotExists().on("media").columns(["business_id", "created_at"]).execute();
}

// any: see up
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("media").ifExists().execute();
}
