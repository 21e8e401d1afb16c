import { sql, type Kysely } from "kysely";

/** Invoices are paid from the business wallet: open until a transfer to the platform's revenue pays them. */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE invoice ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paid'))`.execute(db);
  await sql`ALTER TABLE invoice ADD COLUMN IF NOT EXISTS paid_at timestamptz`.execute(db);
  await sql`ALTER TABLE invoice ADD COLUMN IF NOT EXISTS transfer_id uuid`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS invoice_open_idx ON invoice (business_id, issued_at) WHERE state = 'open'`.execute(db);
}

// any: as above
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS invoice_open_idx`.execute(db);
  for (const c of ["transfer_id", "paid_at", "state"]) await sql`ALTER TABLE invoice DROP COLUMN IF EXISTS ${sql.id(c)}`.execute(db);
}
