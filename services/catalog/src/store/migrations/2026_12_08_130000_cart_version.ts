import { sql, type Kysely } from "kysely";

/**
 * A cart change reads the cart without locking it and writes only if the
 * cart's version is still the one it read (one statement, its own commit):
 * two round trips instead of a transaction's five. Every write to a cart
 * raises the version.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`ALTER TABLE cart ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE cart DROP COLUMN IF EXISTS version`.execute(db);
}
