import { sql, type Kysely } from "kysely";

/*
 * Broadcasts: one row per broadcast, one per recipient with its state. A
 * replica claims pending recipients of running broadcasts with SKIP LOCKED
 * (every replica sends, none twice at once); a claim older than the lease is
 * taken again after a crash, and the send's client message id
 * (broadcast:<id>:<index>) makes the resend answer the original.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS broadcast (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      phone_number_id text NOT NULL,
      template_name text NOT NULL,
      template_language text NOT NULL,
      components jsonb NOT NULL,
      status smallint NOT NULL,
      total bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS broadcast_business_idx ON broadcast (business_id, created_at)`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS broadcast_recipient (
      broadcast_id uuid NOT NULL REFERENCES broadcast (id) ON DELETE CASCADE,
      idx bigint NOT NULL,
      customer_id text NOT NULL DEFAULT '',
      e164 text NOT NULL DEFAULT '',
      components jsonb,
      state smallint NOT NULL,
      claimed_until timestamptz,
      next_attempt_at timestamptz NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      message_id text NOT NULL DEFAULT '',
      error_code int NOT NULL DEFAULT 0,
      error_reason text NOT NULL DEFAULT '',
      PRIMARY KEY (broadcast_id, idx)
    )`.execute(db);
  // The sender's scan: pending recipients by when they may go.
  await sql`CREATE INDEX IF NOT EXISTS broadcast_recipient_pending_idx ON broadcast_recipient (next_attempt_at) WHERE state = 1`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS broadcast_recipient`.execute(db);
  await sql`DROP TABLE IF EXISTS broadcast`.execute(db);
}
