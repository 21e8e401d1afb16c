import { sql, type Kysely } from "kysely";

/*
 * EraseBusinessKey is irreversible: every erasure is recorded with the
 * principal that asked for it, the reason it gave, the keys it destroyed and
 * when. Rows are only ever inserted.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS business_key_erasure (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      business_id text NOT NULL,
      key_ids integer[] NOT NULL,
      erased_by text NOT NULL,
      reason text NOT NULL CHECK (reason <> ''),
      erased_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_key_erasure_business_idx ON business_key_erasure (business_id, erased_at)`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS business_key_erasure`.execute(db);
}
