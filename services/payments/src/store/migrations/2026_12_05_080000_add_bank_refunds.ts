import { sql, type Kysely } from "kysely";

/** Refunds to a customer's bank: a bank operation of kind refund, and the refund's link to it. */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE bank_operation DROP CONSTRAINT IF EXISTS bank_operation_kind_check`.execute(db);
  await sql`ALTER TABLE bank_operation ADD CONSTRAINT bank_operation_kind_check CHECK (kind IN ('topup', 'payout', 'refund'))`.execute(db);
  await sql`ALTER TABLE payment_refund ADD COLUMN IF NOT EXISTS bank_operation_id uuid`.execute(db);
}

// any: as above
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE payment_refund DROP COLUMN IF EXISTS bank_operation_id`.execute(db);
  await sql`ALTER TABLE bank_operation DROP CONSTRAINT IF EXISTS bank_operation_kind_check`.execute(db);
  await sql`ALTER TABLE bank_operation ADD CONSTRAINT bank_operation_kind_check CHECK (kind IN ('topup', 'payout'))`.execute(db);
}
