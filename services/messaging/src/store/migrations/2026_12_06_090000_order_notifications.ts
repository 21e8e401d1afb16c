import { sql, type Kysely } from "kysely";

/*
 * What the customer was told of each change of an order (catalog's order
 * events): one row per order and state, written in the transaction that
 * marks the event handled. `outcome` is sent (with the message and whether
 * it went as text or as the order_update template) or not_sent (with the
 * reason: blocked, outside the window without the template, …).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS order_notification (
      order_id text NOT NULL,
      state text NOT NULL,
      business_id text NOT NULL,
      customer_id text NOT NULL,
      phone_number_id text NOT NULL,
      outcome text NOT NULL,
      via text NOT NULL DEFAULT '',
      message_id text NOT NULL DEFAULT '',
      reason text NOT NULL DEFAULT '',
      event_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (order_id, state)
    )`.execute(db);
  // A customer's erasure deletes its rows.
  await sql`CREATE INDEX IF NOT EXISTS order_notification_customer_idx ON order_notification (customer_id)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS order_notification`.execute(db);
}
