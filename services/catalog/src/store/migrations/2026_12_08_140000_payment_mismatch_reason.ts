import { sql, type Kysely } from "kysely";

/**
 * Why a payment did not pay its order: AMOUNT (not the order's total or
 * currency) or ORDER_NOT_PAYABLE (the order was no longer unpaid: expired,
 * cancelled, or already paid). Either way the money is to be refunded or
 * settled by someone.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`ALTER TABLE payment_mismatch ADD COLUMN IF NOT EXISTS reason text NOT NULL DEFAULT 'AMOUNT'`.execute(db);
  await sql`ALTER TABLE payment_mismatch ADD COLUMN IF NOT EXISTS order_state text NOT NULL DEFAULT 'PENDING_PAYMENT'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE payment_mismatch DROP COLUMN IF EXISTS order_state`.execute(db);
  await sql`ALTER TABLE payment_mismatch DROP COLUMN IF EXISTS reason`.execute(db);
}
