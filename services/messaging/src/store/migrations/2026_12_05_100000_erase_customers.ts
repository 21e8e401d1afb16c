import { sql, type Kysely } from "kysely";

/*
 * Customer erasure (EraseCustomerData). The customer row stays, so the ids
 * its conversations name still resolve, but loses what identifies the
 * person: the number becomes NULL (no longer found, and free for whoever
 * registers it next), the profile is cleared and erased_at set. Every
 * erasure is recorded once per customer in customer_erasure: who asked,
 * why, how many message bodies it removed and when.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE customer ALTER COLUMN e164 DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE customer ADD COLUMN IF NOT EXISTS erased_at timestamptz`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS customer_erasure (
      customer_id text PRIMARY KEY,
      erased_by text NOT NULL,
      reason text NOT NULL,
      erased_messages bigint NOT NULL,
      erased_at timestamptz NOT NULL
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS customer_erasure`.execute(db);
  await sql`ALTER TABLE customer DROP COLUMN IF EXISTS erased_at`.execute(db);
  // Erased customers have no number: a placeholder no lookup matches, to go back under NOT NULL.
  await sql`UPDATE customer SET e164 = 'erased:' || id WHERE e164 IS NULL`.execute(db);
  await sql`ALTER TABLE customer ALTER COLUMN e164 SET NOT NULL`.execute(db);
}
