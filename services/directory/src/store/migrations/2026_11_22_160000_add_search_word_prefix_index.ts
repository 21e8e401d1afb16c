import { sql, type Kysely } from "kysely";

/** LIKE 'pott%' on the dictionary: does a typed prefix start any indexed word? */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`CREATE INDEX IF NOT EXISTS search_word_prefix_idx ON search_word (word text_pattern_ops)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS search_word_prefix_idx`.execute(db);
}
