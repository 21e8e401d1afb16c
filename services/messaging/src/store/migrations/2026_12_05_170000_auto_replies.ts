import { sql, type Kysely } from "kysely";

/*
 * Greeting and away messages: each number's settings, when each kind last
 * went to a customer (its interval), and each business's opening hours as
 * directory's events carry them (newer snapshot versions only).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS auto_reply_settings (
      phone_number_id text PRIMARY KEY,
      business_id text NOT NULL,
      settings jsonb NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS auto_reply_sent (
      phone_number_id text NOT NULL,
      customer_id text NOT NULL,
      kind text NOT NULL,
      sent_at timestamptz NOT NULL,
      PRIMARY KEY (phone_number_id, customer_id, kind)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS business_hours (
      business_id text PRIMARY KEY,
      hours jsonb,
      version bigint NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS business_hours`.execute(db);
  await sql`DROP TABLE IF EXISTS auto_reply_sent`.execute(db);
  await sql`DROP TABLE IF EXISTS auto_reply_settings`.execute(db);
}
