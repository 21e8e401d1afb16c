import { sql, type Kysely, type RawBuilder } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import { anyOf, RANK, type Near, type PreparedToken } from "../domain/search.js";

type Db = Kysely<DirectoryDatabase>;

/**
 * One round trip that normalises the query the way documents were indexed
 * (unaccent, lower case), and for each word finds its stems in the launch
 * languages, the categories it names, how common it is, and close words
 * from the dictionary when it is rare (typo correction with pg_trgm).
 */
export async function prepareQuery(db: Db, query: string): Promise<PreparedToken[]> {
  const { rows } = await sql<{ word: string; stems: string[]; categories: string[]; known: number; corrections: string[]; stop: boolean }>`
    WITH tok AS (
      SELECT t.lexeme AS word, t.positions[1] AS pos FROM unnest(to_tsvector('kontor_simple', ${query})) t ORDER BY 2 LIMIT 8
    ), x AS (
      SELECT tok.word, tok.pos,
        ARRAY(SELECT DISTINCT l FROM unnest(
          tsvector_to_array(to_tsvector('kontor_english', tok.word)) || tsvector_to_array(to_tsvector('kontor_german', tok.word)) ||
          tsvector_to_array(to_tsvector('kontor_portuguese', tok.word)) || tsvector_to_array(to_tsvector('kontor_spanish', tok.word)) ||
          tsvector_to_array(to_tsvector('kontor_indonesian', tok.word))) l WHERE l <> tok.word) AS stems,
        length(tok.word) <= 3 AND (
          length(to_tsvector('kontor_english', tok.word)) = 0 OR length(to_tsvector('kontor_german', tok.word)) = 0 OR
          length(to_tsvector('kontor_portuguese', tok.word)) = 0 OR length(to_tsvector('kontor_spanish', tok.word)) = 0 OR
          length(to_tsvector('kontor_indonesian', tok.word)) = 0) AS stop,
        coalesce((SELECT sw.n FROM search_word sw WHERE sw.word = tok.word), 0) AS known
      FROM tok
    )
    SELECT x.word, x.stems, x.stop, x.known,
      ARRAY(SELECT DISTINCT cw.category FROM category_word cw WHERE cw.word = x.word OR cw.word = ANY(x.stems)) AS categories,
      CASE WHEN length(x.word) >= 4 AND x.known < 3 THEN
        ARRAY(SELECT sw.word FROM search_word sw
              WHERE sw.word % x.word AND sw.word <> x.word AND similarity(sw.word, x.word) >= 0.4
              ORDER BY similarity(sw.word, x.word) DESC, sw.n DESC LIMIT 3)
      ELSE '{}'::text[] END AS corrections
    FROM x ORDER BY x.pos`.execute(db);
  return rows.map((r) => ({ ...r, known: Number(r.known) }));
}

export interface SearchParams {
  /** Text part (tsquery text) and its normalised words; absent for filter-only searches. */
  text?: { tsquery: string; normalized: string };
  category?: string;
  near?: Near;
  /** Cells covering near's radius (absent when the radius is too big for cells). */
  radiusCells?: string[];
  /** Cells of the implicit local branch (near without radius). */
  localCells?: string[];
  openNow: boolean;
  at: Date;
  verifiedOnly: boolean;
  language?: string;
  country?: string;
  /** Snapshot: businesses created later are left out. */
  asOf: Date;
  /** Candidates per branch. */
  k: number;
  after?: { score: number; id: string };
  limit: number;
}

export interface SearchRow {
  business_id: string;
  display_name: string;
  category: string;
  country: string;
  languages: string[];
  city: string;
  lat: number | null;
  lng: number | null;
  verified: boolean;
  follower_count: number;
  distance_km: number | null;
  score: number;
  open_now: boolean;
  about: string;
  profile_picture_url: string;
  handle: string | null;
}

const COLS = sql`s.business_id, s.display_name, s.doc, s.category, s.country, s.languages, s.city, s.lat, s.lng, s.verified,
  s.follower_count, s.message_volume, s.time_zone, s.open_week, s.exc_region, s.exc_open`;

function and(parts: RawBuilder<unknown>[]): RawBuilder<unknown> {
  return parts.length === 0 ? sql`TRUE` : sql.join(parts, sql` AND `);
}

function tsq(text: string): RawBuilder<unknown> {
  return sql`${text}::tsquery`;
}

function point(near: Near): RawBuilder<unknown> {
  return sql`ll_to_earth(${near.lat}::float8, ${near.lng}::float8)`;
}

/**
 * Candidate branches, each bounded by k so no query touches more than a few
 * hundred rows however broad it is:
 * - text: GIN over the whole table and over popular businesses (so the best
 *   known matches are always in), plus a local branch near the caller;
 *   geo radius and category join the tsquery as lexemes ("@u33db", "~food.cafe");
 * - near without text: nearest first by KNN on GiST (category, geo), plus popular ones;
 * - filters only: popular first, then any.
 * Exact filters (distance, open now, language, …) run on the fetched rows.
 */
function branches(p: SearchParams): RawBuilder<unknown>[] {
  const filters: RawBuilder<unknown>[] = [sql`s.created_at <= ${p.asOf}`];
  if (p.verifiedOnly) filters.push(sql`s.verified`);
  if (p.country) filters.push(sql`s.country = ${p.country}`);
  if (p.language) filters.push(sql`${p.language} = ANY(s.languages)`);
  if (p.category) filters.push(sql`s.category = ${p.category}`);
  if (p.near && p.near.radiusKm > 0) {
    filters.push(sql`s.lat IS NOT NULL AND dir_distance_km(s.lat, s.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) <= ${p.near.radiusKm}::float8`);
  }
  if (p.openNow) filters.push(sql`dir_open_at(s.open_week, s.exc_region, s.exc_open, s.time_zone, ${p.at}::timestamptz)`);
  const where = (...extra: RawBuilder<unknown>[]) => and([...extra, ...filters]);
  const out: RawBuilder<unknown>[] = [];
  const categoryLexeme = p.category ? anyOf([`~${p.category}`]) : undefined;

  if (p.text) {
    let match = p.text.tsquery;
    if (categoryLexeme) match = `(${match}) & ${categoryLexeme}`;
    const radiusMatch = p.radiusCells ? `(${match}) & ${anyOf(p.radiusCells)}` : match;
    out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.popular`, sql`s.doc @@ ${tsq(radiusMatch)}`)} LIMIT ${p.k})`);
    if (!p.verifiedOnly) out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.doc @@ ${tsq(radiusMatch)}`)} LIMIT ${p.k})`);
    if (p.localCells) {
      const local = `(${match}) & ${anyOf(p.localCells)}`;
      out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.doc @@ ${tsq(local)}`)} LIMIT ${p.k})`);
    }
    return out;
  }

  if (p.near) {
    const pt = point(p.near);
    const box = p.near.radiusKm > 0 ? [sql`s.geo <@ earth_box(${pt}, ${p.near.radiusKm * 1000 * 1.01}::float8)`] : [];
    const popular = p.verifiedOnly ? [sql`s.popular`] : [];
    out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.geo IS NOT NULL`, ...popular, ...box)} ORDER BY s.geo <-> ${pt} LIMIT ${p.k})`);
    if (!p.verifiedOnly) {
      const popularMatch = [categoryLexeme, p.radiusCells ? anyOf(p.radiusCells) : undefined].filter((x): x is string => !!x).join(" & ");
      if (popularMatch) out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.popular`, sql`s.doc @@ ${tsq(popularMatch)}`)} LIMIT ${p.k})`);
      else out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.popular`, sql`s.geo IS NOT NULL`)} ORDER BY s.geo <-> ${pt} LIMIT ${p.k})`);
    }
    return out;
  }

  const byCategory = categoryLexeme ? [sql`s.doc @@ ${tsq(categoryLexeme)}`] : [];
  out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.popular`, ...byCategory)} LIMIT ${p.k})`);
  if (!p.verifiedOnly) out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(...byCategory)} LIMIT ${p.k})`);
  return out;
}

function scoreExpr(p: SearchParams): RawBuilder<unknown> {
  const text = p.text
    ? sql`ts_rank(${RANK.weights}::float4[], u.doc, ${tsq(p.text.tsquery)}) + ${RANK.nameSimilarity}::float8 * similarity(dir_norm(u.display_name), ${p.text.normalized})`
    : sql`0`;
  const proximity = p.near
    ? sql`CASE WHEN u.lat IS NULL THEN 0 ELSE ${RANK.proximity}::float8 / (1 + dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) / ${p.near.radiusKm > 0 ? Math.max(p.near.radiusKm / 3, 0.5) : 5}::float8) END`
    : sql`0`;
  return sql`(${text})
    + ${RANK.popularity}::float8 * (ln(1 + u.follower_count) / ln(1e6) + 0.5 * ln(1 + u.message_volume) / ln(1e7))
    + CASE WHEN u.verified THEN ${RANK.verified}::float8 ELSE 0 END
    + ${proximity}`;
}

export async function searchBusinesses(db: Db, p: SearchParams): Promise<SearchRow[]> {
  const distance = p.near ? sql`CASE WHEN u.lat IS NULL THEN NULL ELSE dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) END` : sql`NULL::float8`;
  const after = p.after ? sql`WHERE (score, business_id) < (${p.after.score}::float8, ${p.after.id})` : sql``;
  const { rows } = await sql<SearchRow>`
    WITH cand AS (${sql.join(branches(p), sql` UNION ALL `)}),
    uniq AS (SELECT DISTINCT ON (business_id) * FROM cand ORDER BY business_id),
    scored AS (SELECT u.*, ${distance} AS distance_km, (${scoreExpr(p)})::float8 AS score FROM uniq u),
    page AS (SELECT * FROM scored ${after} ORDER BY score DESC, business_id DESC LIMIT ${p.limit})
    SELECT p.business_id, p.display_name, p.category, p.country, p.languages, p.city, p.lat, p.lng, p.verified, p.follower_count,
           p.distance_km, p.score, dir_open_at(p.open_week, p.exc_region, p.exc_open, p.time_zone, ${p.at}::timestamptz) AS open_now,
           b.about, b.profile_picture_url, b.handle
    FROM page p JOIN business b ON b.id = p.business_id
    ORDER BY p.score DESC, p.business_id DESC`.execute(db);
  return rows;
}

/** The words of a text as the index sees them (unaccent, lower case), in order. */
export async function normalizeWords(db: Db, text: string): Promise<string[]> {
  const { rows } = await sql<{ w: string }>`
    SELECT t.lexeme AS w FROM unnest(to_tsvector('kontor_simple', ${text})) t ORDER BY t.positions[1] LIMIT 8`.execute(db);
  return rows.map((r) => r.w);
}

export interface SuggestParams {
  /** tsquery over names: typed words, the last one as a prefix. */
  tsquery: string;
  normalized: string;
  near?: Near;
  localCells?: string[];
  k: number;
  limit: number;
}

/**
 * Prefix completion over names only (weight A): every typed word must
 * start a word of the name. Ranked by how much of the name is typed,
 * popularity, badge and distance.
 */
export async function suggestBusinesses(db: Db, p: SuggestParams): Promise<SearchRow[]> {
  const local = p.localCells
    ? sql`UNION ALL (SELECT ${COLS} FROM business_search s WHERE s.doc @@ ${tsq(`(${p.tsquery}) & ${anyOf(p.localCells)}`)} LIMIT ${p.k})`
    : sql``;
  const proximity = p.near
    ? sql`CASE WHEN u.lat IS NULL THEN 0 ELSE ${RANK.proximity}::float8 / (1 + dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) / 5) END`
    : sql`0`;
  const distance = p.near ? sql`CASE WHEN u.lat IS NULL THEN NULL ELSE dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) END` : sql`NULL::float8`;
  const { rows } = await sql<SearchRow>`
    WITH cand AS (
      (SELECT ${COLS} FROM business_search s WHERE s.popular AND s.doc @@ ${tsq(p.tsquery)} LIMIT ${p.k})
      UNION ALL (SELECT ${COLS} FROM business_search s WHERE s.doc @@ ${tsq(p.tsquery)} LIMIT ${p.k})
      ${local}
    ), uniq AS (SELECT DISTINCT ON (business_id) * FROM cand ORDER BY business_id),
    scored AS (
      SELECT u.*, ${distance} AS distance_km,
        (CASE WHEN dir_norm(u.display_name) LIKE ${p.normalized.replace(/[\\%_]/g, "")} || '%' THEN 0.3 ELSE 0 END
          + ${RANK.nameSimilarity}::float8 * similarity(dir_norm(u.display_name), ${p.normalized})
          + ${RANK.popularity}::float8 * (ln(1 + u.follower_count) / ln(1e6) + 0.5 * ln(1 + u.message_volume) / ln(1e7))
          + CASE WHEN u.verified THEN ${RANK.verified}::float8 ELSE 0 END
          + ${proximity})::float8 AS score
      FROM uniq u
    ), page AS (SELECT * FROM scored ORDER BY score DESC, business_id DESC LIMIT ${p.limit})
    SELECT p.business_id, p.display_name, p.category, p.country, p.languages, p.city, p.lat, p.lng, p.verified, p.follower_count,
           p.distance_km, p.score, false AS open_now, b.about, b.profile_picture_url, b.handle
    FROM page p JOIN business b ON b.id = p.business_id
    ORDER BY p.score DESC, p.business_id DESC`.execute(db);
  return rows;
}

/** Refills the query-word → category table from the taxonomy (runs at start; small). */
export async function syncCategoryWords(db: Db, keywords: { category: string; keyword: string; lang: string }[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`DELETE FROM category_word`.execute(trx);
    await sql`
      WITH k AS (SELECT * FROM unnest(${keywords.map((k) => k.category)}::text[], ${keywords.map((k) => k.keyword)}::text[], ${keywords.map((k) => k.lang)}::text[]) AS k(category, keyword, lang)),
      stem AS (SELECT k.category, k.keyword, s.lexeme, s.positions FROM k, unnest(to_tsvector(dir_lang_config(ARRAY[k.lang]), k.keyword)) s),
      simple AS (SELECT k.category, k.keyword, s.lexeme, s.positions FROM k, unnest(to_tsvector('kontor_simple', k.keyword)) s)
      INSERT INTO category_word (word, category)
      SELECT lexeme, category FROM stem
      UNION
      SELECT si.lexeme, si.category FROM simple si
      WHERE EXISTS (SELECT 1 FROM stem st WHERE st.category = si.category AND st.keyword = si.keyword AND st.positions && si.positions)
      ON CONFLICT DO NOTHING`.execute(trx);
  });
}
