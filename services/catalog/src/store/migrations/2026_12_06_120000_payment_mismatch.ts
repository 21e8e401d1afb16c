import { sql, type Kysely } from "kysely";

/**
 * Payments whose amount is not the order's total: the order stays unpaid
 * and the payment is kept here for someone to resolve (refund it, or ask
 * for the rest). One row per payment event.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE TABLE IF NOT EXISTS payment_mismatch (
      event_id text PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES customer_order (id),
      payment_id text NOT NULL,
      paid_minor bigint,
      paid_currency text NOT NULL,
      total_minor bigint NOT NULL,
      currency text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS payment_mismatch_order_idx ON payment_mismatch (order_id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS payment_mismatch`.execute(db);
}
