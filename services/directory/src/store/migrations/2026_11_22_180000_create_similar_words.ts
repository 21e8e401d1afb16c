import { sql, type Kysely } from "kysely";

/**
 * Typo candidates for a query word: dictionary words that share enough
 * trigrams. Always through the trigram index (a small dictionary would
 * otherwise be scanned whole, computing a similarity per word); the
 * threshold is the function's own.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE OR REPLACE FUNCTION dir_similar_words(w text, lim int) RETURNS TABLE (word text, n int)
    LANGUAGE sql STABLE
    SET enable_seqscan = off
    SET pg_trgm.similarity_threshold = 0.4
    AS $$
      SELECT sw.word, sw.n FROM search_word sw
      WHERE sw.word OPERATOR(public.%) w AND sw.word <> w AND left(sw.word, 1) NOT IN ('~', '^')
      ORDER BY public.similarity(sw.word, w) DESC, sw.n DESC
      LIMIT lim
    $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS dir_similar_words(text, int)`.execute(db);
}
