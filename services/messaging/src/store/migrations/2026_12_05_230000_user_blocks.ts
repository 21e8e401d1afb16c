import { sql, type Kysely } from "kysely";

/*
 * The business's side of blocking (the Cloud API's block_users): per business
 * number × customer whether the number blocks the customer and when that last
 * changed (an unblock keeps its row and time, so an older change cannot win).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS user_block (
      phone_number_id text NOT NULL,
      customer_id text NOT NULL,
      business_id text NOT NULL,
      blocked boolean NOT NULL,
      changed_at timestamptz NOT NULL,
      PRIMARY KEY (phone_number_id, customer_id)
    )`.execute(db);
  // The list, most recently blocked first.
  await sql`CREATE INDEX IF NOT EXISTS user_block_list_idx ON user_block (phone_number_id, changed_at DESC, customer_id DESC) WHERE blocked`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS user_block_customer_idx ON user_block (customer_id)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS user_block`.execute(db);
}
