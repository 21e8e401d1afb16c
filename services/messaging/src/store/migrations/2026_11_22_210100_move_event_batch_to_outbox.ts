import { sql, type Kysely } from "kysely";

/*
 * Messaging's own event outbox (event_batch) becomes the service kit's
 * (outbox_batch, created by the kit migration 2026_11_22_210000, which sorts
 * before this one). Both hold one row per commit with the same protobuf bytes
 * (StoredEventBatch then, kontor.common.v1.OutboxBatch now), so pending rows
 * move as they are, in id order, ahead of anything written after the upgrade.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    INSERT INTO outbox_batch (payload, created_at)
    SELECT payload, created_at FROM event_batch ORDER BY id`.execute(db);
  await sql`DROP TABLE event_batch`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  // Pending events stay in outbox_batch: the kit's own down migration, which runs after this one, moves them.
  await sql`
    CREATE TABLE IF NOT EXISTS event_batch (
      id bigserial PRIMARY KEY,
      payload bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}
