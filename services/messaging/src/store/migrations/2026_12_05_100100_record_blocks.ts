import { sql, type Kysely } from "kysely";

/*
 * Blocks and reports (rule 3): per customer × business whether the customer
 * blocks it and when that last changed (an unblock keeps its row and time);
 * every report a customer made, with its reason.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS customer_block (
      customer_id text NOT NULL,
      business_id text NOT NULL,
      blocked boolean NOT NULL,
      changed_at timestamptz NOT NULL,
      PRIMARY KEY (customer_id, business_id)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS business_report (
      id uuid PRIMARY KEY,
      customer_id text NOT NULL,
      business_id text NOT NULL,
      phone_number_id text,
      reason smallint NOT NULL,
      comment text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_report_business_idx ON business_report (business_id, created_at)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_report_customer_idx ON business_report (customer_id)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS business_report`.execute(db);
  await sql`DROP TABLE IF EXISTS customer_block`.execute(db);
}
