import { sql, type Kysely } from "kysely";

/*
 * Who follows which business, from directory's follow.changed events (the
 * broadcast segment "followers with a marketing opt-in"). An unfollow keeps
 * its row (following false) with the change's time, so an older event that
 * arrives late or again changes nothing.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS customer_follow (
      business_id text NOT NULL,
      customer_id text NOT NULL,
      following boolean NOT NULL,
      changed_at timestamptz NOT NULL,
      event_id text NOT NULL,
      PRIMARY KEY (business_id, customer_id)
    )`.execute(db);
  // A customer's erasure deletes its rows.
  await sql`CREATE INDEX IF NOT EXISTS customer_follow_customer_idx ON customer_follow (customer_id)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS customer_follow`.execute(db);
}
