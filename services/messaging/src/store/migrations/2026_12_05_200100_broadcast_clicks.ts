import { sql, type Kysely } from "kysely";

/*
 * A broadcast's funnel ends in clicks: when a recipient first tapped a
 * quick-reply button of its broadcast message, set by the analytics
 * consumer from the tap's message.received event (its reply context names
 * the message), found by the accepted recipients' message ids.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast_recipient ADD COLUMN IF NOT EXISTS clicked_at timestamptz`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS broadcast_recipient_message_idx ON broadcast_recipient (message_id) WHERE state = 2`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS broadcast_recipient_message_idx`.execute(db);
  await sql`ALTER TABLE broadcast_recipient DROP COLUMN IF EXISTS clicked_at`.execute(db);
}
