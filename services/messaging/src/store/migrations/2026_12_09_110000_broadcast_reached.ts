import { sql, type Kysely } from "kysely";

/*
 * A broadcast's funnel without a join to its messages: how far each
 * recipient's message got (DELIVERED 3, READ 4), kept by the analytics
 * consumer from the status events, as clicked_at is from the taps. Not
 * indexed, so it is a HOT update. Recipients of earlier broadcasts take
 * their messages' statuses now.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast_recipient ADD COLUMN IF NOT EXISTS reached smallint NOT NULL DEFAULT 0`.execute(db);
  await sql`
    UPDATE broadcast_recipient r SET reached = m.status
    FROM message m WHERE r.state = 2 AND m.id = r.message_id AND m.status IN (3, 4)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast_recipient DROP COLUMN IF EXISTS reached`.execute(db);
}
