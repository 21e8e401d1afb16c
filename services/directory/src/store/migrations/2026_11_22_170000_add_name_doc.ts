import { sql, type Kysely } from "kysely";

/**
 * Names alone, for suggestions: a prefix typed by a customer must match a
 * word of the name, not a city or a description, and checking weights on
 * every row of a common word ("new" of New York) costs a heap visit each.
 * Each name word also carries its first one to four letters as "^c",
 * "^ca", "^car", "^carl": a typed prefix is then a plain posting list
 * (longer ones are refined on the fetched names) instead of a prefix
 * expansion that materialises every matching word's list. The geohash cells ride along
 * so "near me" stays one GIN lookup.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE OR REPLACE FUNCTION dir_name_doc(name text, cells text[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT strip(to_tsvector('kontor_simple', coalesce(name, '')))
      || array_to_tsvector(ARRAY(
           SELECT DISTINCT '^' || left(w, n)
           FROM unnest(tsvector_to_array(to_tsvector('kontor_simple', coalesce(name, '')))) AS w, generate_series(1, 4) AS n
           WHERE length(w) >= n))
      || array_to_tsvector(coalesce(cells, '{}')) $$`.execute(db);
  await sql`SET LOCAL maintenance_work_mem = '256MB'`.execute(db);
  await sql`ALTER TABLE business_search ADD COLUMN IF NOT EXISTS name_doc tsvector`.execute(db);
  await sql`
    UPDATE business_search SET name_doc = dir_name_doc(display_name, ARRAY(SELECT t.lexeme FROM unnest(doc) t WHERE left(t.lexeme, 1) = '@'))
    WHERE name_doc IS NULL`.execute(db);
  await sql`ALTER TABLE business_search ALTER COLUMN name_doc SET NOT NULL`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_name_doc_idx ON business_search USING gin (name_doc) WITH (fastupdate = off)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_name_doc_popular_idx ON business_search USING gin (name_doc) WITH (fastupdate = off) WHERE popular`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS business_search_name_doc_popular_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS business_search_name_doc_idx`.execute(db);
  await sql`ALTER TABLE business_search DROP COLUMN IF EXISTS name_doc`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dir_name_doc(text, text[])`.execute(db);
}
