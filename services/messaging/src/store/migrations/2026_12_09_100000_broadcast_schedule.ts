import { sql, type Kysely } from "kysely";

/*
 * A scheduled broadcast: nothing is sent before send_at. Its chunks are due
 * no earlier (the sender's scan needs nothing else); the column keeps the
 * schedule for GetBroadcast and for a resume.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast ADD COLUMN IF NOT EXISTS send_at timestamptz`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE broadcast DROP COLUMN IF EXISTS send_at`.execute(db);
}
