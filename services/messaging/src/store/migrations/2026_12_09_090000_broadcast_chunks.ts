import { sql, type Kysely } from "kysely";

/*
 * A broadcast's sender claims chunks, not recipients: one row per run of
 * consecutive recipients, locked (FOR UPDATE SKIP LOCKED) while its due
 * recipients are sent and their outcomes recorded in the same transaction.
 * With no lock and no index entry to write per recipient, the outcome is a
 * HOT update of the recipient row (no index names state, message id or next
 * attempt; fillfactor leaves room on the page for the new version), and a
 * tap's recipient is found by its message's client id
 * (broadcast:<id>:<index>) instead of an index of message ids.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS broadcast_chunk (
      broadcast_id uuid NOT NULL REFERENCES broadcast (id) ON DELETE CASCADE,
      first_idx bigint NOT NULL,
      last_idx bigint NOT NULL,
      next_attempt_at timestamptz NOT NULL,
      done boolean NOT NULL DEFAULT false,
      PRIMARY KEY (broadcast_id, first_idx)
    )`.execute(db);
  // The sender's scan: chunks with someone pending, by when the first of them may go.
  await sql`CREATE INDEX IF NOT EXISTS broadcast_chunk_pending_idx ON broadcast_chunk (next_attempt_at) WHERE NOT done`.execute(db);
  // Broadcasts under way keep going: their pending recipients in chunks of 250.
  await sql`
    INSERT INTO broadcast_chunk (broadcast_id, first_idx, last_idx, next_attempt_at)
    SELECT broadcast_id, min(idx), max(idx), min(next_attempt_at) FROM broadcast_recipient WHERE state = 1
    GROUP BY broadcast_id, (idx - 1) / 250
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`DROP INDEX IF EXISTS broadcast_recipient_pending_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS broadcast_recipient_message_idx`.execute(db);
  await sql`ALTER TABLE broadcast_recipient DROP COLUMN IF EXISTS claimed_until`.execute(db);
  await sql`ALTER TABLE broadcast_recipient SET (fillfactor = 50)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast_recipient RESET (fillfactor)`.execute(db);
  await sql`ALTER TABLE broadcast_recipient ADD COLUMN IF NOT EXISTS claimed_until timestamptz`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS broadcast_recipient_message_idx ON broadcast_recipient (message_id) WHERE state = 2`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS broadcast_recipient_pending_idx ON broadcast_recipient (next_attempt_at) WHERE state = 1`.execute(db);
  await sql`DROP TABLE IF EXISTS broadcast_chunk`.execute(db);
}
