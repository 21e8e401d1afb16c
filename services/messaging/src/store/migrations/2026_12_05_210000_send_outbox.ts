import { sql, type Kysely } from "kysely";

/*
 * The send path's own outbox (send-writer.ts): the same columns as the kit's
 * outbox_batch, relayed by a second relay in handoff mode, which gets each
 * row in memory right after its commit and reads the table only to recover
 * rows a crash or a failed publish left behind. No NOTIFY: nobody LISTENs.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS send_outbox (
    id bigserial PRIMARY KEY,
    payload bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS send_outbox`.execute(db);
}
