import { sql, type Kysely } from "kysely";

/** The platform's bill for messaging: usage lines from messaging's billing events, monthly invoices. */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("usage_line")
    .ifNotExists()
    // The billing event's id: one line per event.
    .addColumn("event_id", "text", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind IN ('message', 'conversation')`))
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("country", "text", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("unit_price_minor", "bigint", (c) => c.notNull().check(sql`unit_price_minor >= 0`))
    // "YYYY-MM" of the usage, UTC.
    .addColumn("period", "text", (c) => c.notNull())
    .addColumn("occurred_at", "timestamptz", (c) => c.notNull())
    .addColumn("invoice_id", "uuid")
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS usage_line_open_idx ON usage_line (business_id, period) WHERE invoice_id IS NULL`.execute(db);
  await db.schema
    .createTable("invoice")
    .ifNotExists()
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull())
    .addColumn("period", "text", (c) => c.notNull())
    .addColumn("currency", "char(3)", (c) => c.notNull())
    .addColumn("total_minor", "bigint", (c) => c.notNull())
    .addColumn("issued_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("invoice_business_period_key", ["business_id", "period"])
    .execute();
  await db.schema
    .createTable("invoice_line")
    .ifNotExists()
    .addColumn("invoice_id", "uuid", (c) => c.notNull().references("invoice.id"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("country", "text", (c) => c.notNull())
    .addColumn("quantity", "bigint", (c) => c.notNull())
    .addColumn("unit_price_minor", "bigint", (c) => c.notNull())
    .addColumn("amount_minor", "bigint", (c) => c.notNull())
    .execute();
  await sql`CREATE INDEX IF NOT EXISTS invoice_line_invoice_idx ON invoice_line (invoice_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["invoice_line", "invoice", "usage_line"]) await db.schema.dropTable(t).ifExists().execute();
}
