import { sql, type Kysely } from "kysely";

/*
 * Per-template analytics: the template of each template message (learnt
 * from message.billed), so its later deliveries, reads and button taps are
 * counted for the template. Rows older than the analytics consumer needs
 * are deleted by it (sent_at).
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS analytics_template_message (
      message_id text PRIMARY KEY,
      template_name text NOT NULL,
      sent_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS analytics_template_message_sent_at ON analytics_template_message (sent_at)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS analytics_template_message`.execute(db);
}
