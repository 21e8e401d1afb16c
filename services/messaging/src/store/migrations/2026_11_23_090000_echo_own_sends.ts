import { sql, type Kysely } from "kysely";

/*
 * A customer's own sends get a number in its own inbox too, so its other
 * devices receive what it sent from one of them (store-and-forward included)
 * and one cursor still covers both directions. Only customer sends carry the
 * number: business numbers see their sends as status updates (the Cloud API
 * model) and their high-volume sends pay for no second index entry, which the
 * partial index below makes free for them.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  // No default: adding a nullable column rewrites nothing.
  await sql`ALTER TABLE message ADD COLUMN IF NOT EXISTS sender_rseq bigint`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS message_sender_inbox_idx ON message (sender, sender_rseq) WHERE sender_rseq IS NOT NULL`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS message_sender_inbox_idx`.execute(db);
  await sql`ALTER TABLE message DROP COLUMN IF EXISTS sender_rseq`.execute(db);
}
