import { sql, type Kysely } from "kysely";

/**
 * One call per search turns the query into what the planner in the service
 * needs, per word: its normalised form, stems in the five launch languages,
 * the categories it names (with their sizes), how many documents hold it,
 * whether some word starts with it, and close words when it is rare (typo
 * correction). plpgsql keeps the plan cached per connection.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE OR REPLACE FUNCTION dir_prepare_query(q text)
    RETURNS TABLE (word text, stems text[], stop boolean, known int, prefix_known boolean, categories json, corrections json)
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
      RETURN QUERY
      WITH tok AS MATERIALIZED (
        SELECT t.lexeme AS w, t.positions[1] AS pos FROM unnest(to_tsvector('kontor_simple', q)) t ORDER BY 2 LIMIT 8
      ), x AS MATERIALIZED (
        SELECT tok.w, tok.pos,
          ARRAY(SELECT DISTINCT l FROM unnest(
            tsvector_to_array(to_tsvector('kontor_english', tok.w)) || tsvector_to_array(to_tsvector('kontor_german', tok.w)) ||
            tsvector_to_array(to_tsvector('kontor_portuguese', tok.w)) || tsvector_to_array(to_tsvector('kontor_spanish', tok.w)) ||
            tsvector_to_array(to_tsvector('kontor_indonesian', tok.w))) l WHERE l <> tok.w) AS st,
          length(tok.w) <= 3 AND (
            length(to_tsvector('kontor_english', tok.w)) = 0 OR length(to_tsvector('kontor_german', tok.w)) = 0 OR
            length(to_tsvector('kontor_portuguese', tok.w)) = 0 OR length(to_tsvector('kontor_spanish', tok.w)) = 0 OR
            length(to_tsvector('kontor_indonesian', tok.w)) = 0) AS sp
        FROM tok
      ), y AS MATERIALIZED (
        SELECT x.*,
          coalesce((SELECT max(sw.n) FROM search_word sw WHERE sw.word = ANY (array_prepend(x.w, x.st))), 0)::int AS kn,
          EXISTS (SELECT 1 FROM search_word sw WHERE sw.word ~>=~ x.w AND sw.word ~<~ (x.w || chr(1114111))) AS pk
        FROM x
      )
      SELECT y.w, y.st, y.sp, y.kn, y.pk,
        coalesce((SELECT json_agg(json_build_object('code', c.category, 'n', coalesce((SELECT sw.n FROM search_word sw WHERE sw.word = '~' || c.category), 0)))
                  FROM (SELECT DISTINCT cw.category FROM category_word cw WHERE cw.word = ANY (array_prepend(y.w, y.st))) c), '[]'::json),
        CASE WHEN length(y.w) >= 4 AND y.kn < 3 THEN
          coalesce((SELECT json_agg(json_build_object('word', c.word, 'n', c.n)) FROM dir_similar_words(y.w, 3) c), '[]'::json)
        ELSE '[]'::json END
      FROM y ORDER BY y.pos;
    END
    $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS dir_prepare_query(text)`.execute(db);
}
