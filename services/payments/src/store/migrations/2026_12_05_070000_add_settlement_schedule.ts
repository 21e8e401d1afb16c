import { sql, type Kysely } from "kysely";

/** Scheduled settlement: a business's wallet paid out to its bank account every interval, once above a minimum. */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("settlement_schedule")
    .ifNotExists()
    .addColumn("business_id", "text", (c) => c.primaryKey())
    .addColumn("bank_account_id", "uuid", (c) => c.notNull().references("bank_account.id"))
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("minimum_minor", "bigint", (c) => c.notNull().check(sql`minimum_minor >= 0`))
    .addColumn("enabled", "boolean", (c) => c.notNull())
    .addColumn("next_run_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS settlement_schedule_due_idx ON settlement_schedule (next_run_at) WHERE enabled`.execute(db);
}

// any: as above
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("settlement_schedule").ifExists().execute();
}
