import { sql, type Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await db.schema
    .createTable("verification_case")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull().references("business.id").onDelete("cascade"))
    .addColumn("state", "text", (c) => c.notNull().check(sql`state IN ('pending', 'approved', 'rejected')`))
    .addColumn("requested_name", "text", (c) => c.notNull())
    .addColumn("evidence", "jsonb", (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("reviewer_id", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("decision_reason", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`clock_timestamp()`))
    .addColumn("decided_at", "timestamptz")
    .execute();
  // At most one open case per business.
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS verification_case_pending_key ON verification_case (business_id) WHERE state = 'pending'`.execute(db);
  await db.schema.createIndex("verification_case_queue_idx").ifNotExists().on("verification_case").columns(["state", "created_at", "id"]).execute();
  await db.schema.createIndex("verification_case_business_idx").ifNotExists().on("verification_case").columns(["business_id", "created_at", "id"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("verification_case").ifExists().execute();
}
