import { sql, type Kysely, type RawBuilder } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import { anyOf, RANK, type Near, type PreparedToken } from "../domain/search.js";

type Db = Kysely<DirectoryDatabase>;

/**
 * One round trip (dir_prepare_query) that normalises the query the way
 * documents were indexed (unaccent, lower case), and for each word finds its
 * stems in the launch languages, the categories it names, how common it is,
 * and close words from the dictionary when it is rare (typo correction with pg_trgm).
 */
export async function prepareQuery(db: Db, query: string): Promise<PreparedToken[]> {
  const { rows } = await sql<{
    word: string;
    stems: string[];
    categories: { code: string; n: number }[];
    known: number;
    prefix_known: boolean;
    corrections: { word: string; n: number }[];
    stop: boolean;
  }>`SELECT * FROM dir_prepare_query(${query})`.execute(db);
  return rows.map((r) => ({
    word: r.word,
    stems: r.stems,
    stop: r.stop,
    known: Number(r.known),
    prefixKnown: r.prefix_known,
    categories: r.categories.map((c) => ({ code: c.code, n: Number(c.n) })),
    corrections: r.corrections.map((c) => ({ word: c.word, n: Number(c.n) })),
  }));
}

export interface SearchParams {
  /** Text part (tsquery text, its index part) and its normalised words; absent for filter-only searches. */
  text?: { tsquery: string; indexed: string; normalized: string };
  /** The text matches so many documents that only popular and nearby candidates are worth fetching. */
  broad?: boolean;
  category?: string;
  near?: Near;
  /** Cells covering near's radius (absent when the radius is too big for cells). */
  radiusCells?: string[];
  /** A small cover around the caller (about a kilometre): the closest matches. */
  localCells?: string[];
  /** A wider cover around the caller (near without radius): popular matches in the area. */
  nearbyCells?: string[];
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

/** Suggestions rank on names, popularity and distance only. */
const SUGGEST_COLS = sql`s.business_id, s.display_name, s.category, s.country, s.languages, s.city, s.lat, s.lng, s.verified,
  s.follower_count, s.message_volume`;

function and(parts: RawBuilder<unknown>[]): RawBuilder<unknown> {
  return parts.length === 0 ? sql`TRUE` : sql.join(parts, sql` AND `);
}

function tsq(text: string): RawBuilder<unknown> {
  return sql`${text}::tsquery`;
}

function point(near: Near): RawBuilder<unknown> {
  return sql`ll_to_earth(${near.lat}::float8, ${near.lng}::float8)`;
}

function withinRadius(alias: string, near: Near): RawBuilder<unknown> {
  const a = sql.raw(alias);
  return sql`${a}.lat IS NOT NULL AND dir_distance_km(${a}.lat, ${a}.lng, ${near.lat}::float8, ${near.lng}::float8) <= ${near.radiusKm}::float8`;
}

/**
 * Candidate branches, each bounded by k so no query touches more than a few
 * hundred rows however broad it is:
 * - text: GIN over popular businesses (the best known matches are always in),
 *   over everything unless the words are so common that only popular and
 *   nearby ones matter, and near the caller; a radius and a category join the
 *   tsquery as lexemes ("@u33db", "~food.cafe");
 * - near without text: nearest first by KNN on GiST ((category,) geo) and
 *   nearest popular ones; the radius cuts the ordered list;
 * - filters only: popular first, then any.
 * Exact filters (distance, open now, language, …) run on the fetched rows.
 */
function branches(p: SearchParams): RawBuilder<unknown>[] {
  const filters: RawBuilder<unknown>[] = [sql`s.created_at <= ${p.asOf}`];
  if (p.verifiedOnly) filters.push(sql`s.verified`);
  if (p.country) filters.push(sql`s.country = ${p.country}`);
  if (p.language) filters.push(sql`${p.language} = ANY(s.languages)`);
  if (p.category) filters.push(sql`s.category = ${p.category}`);
  if (p.openNow) filters.push(sql`dir_open_at(s.open_week, s.exc_region, s.exc_open, s.time_zone, ${p.at}::timestamptz)`);
  const radius = p.near && p.near.radiusKm > 0 ? p.near : undefined;
  const where = (...extra: RawBuilder<unknown>[]) => and([...extra, ...filters, ...(radius ? [withinRadius("s", radius)] : [])]);
  const out: RawBuilder<unknown>[] = [];
  const categoryLexeme = p.category ? anyOf([`~${p.category}`]) : undefined;

  if (p.text) {
    let match = p.text.indexed;
    if (categoryLexeme) match = `(${match}) & ${categoryLexeme}`;
    const within = (cells: string[] | undefined) => (cells ? `(${match}) & ${anyOf(cells)}` : match);
    // ts_match_vq is @@ spelled as a function: checked on the fetched rows, never given to the index.
    const rest = p.text.indexed === p.text.tsquery ? [] : [sql`ts_match_vq(s.doc, ${tsq(p.text.tsquery)})`];
    const gin = (extra: RawBuilder<unknown>[], query: string) =>
      sql`(SELECT ${COLS} FROM business_search s WHERE ${where(...extra, sql`s.doc @@ ${tsq(query)}`, ...rest)} LIMIT ${p.k})`;
    // Popular matches (in the radius, or around the caller).
    out.push(gin([sql`s.popular`], within(p.radiusCells ?? p.nearbyCells)));
    // The closest matches: a small cover around the caller keeps the posting lists short.
    if (p.localCells && !p.verifiedOnly) out.push(gin([], within(p.localCells)));
    // Everything that matches, unless the words are so common that only popular and close ones matter.
    if (!p.verifiedOnly && !p.broad) out.push(gin([], within(p.radiusCells)));
    return out;
  }

  if (p.near) {
    // KNN without a box: the planner can only walk the GiST index nearest
    // first, and stops after k rows that pass the filters; the radius then
    // cuts the ordered list (everything after the first row outside is outside too).
    const pt = point(p.near);
    const knnFilters = and([sql`s.geo IS NOT NULL`, ...filters]);
    const cut = radius ? sql`WHERE ${withinRadius("knn", radius)}` : sql``;
    const knn = (extra: RawBuilder<unknown>) =>
      sql`(SELECT knn.* FROM (SELECT ${COLS} FROM business_search s WHERE ${extra} AND ${knnFilters} ORDER BY s.geo <-> ${pt} LIMIT ${p.k}) knn ${cut})`;
    if (!p.verifiedOnly) out.push(knn(sql`TRUE`));
    if (categoryLexeme && p.radiusCells) {
      out.push(sql`(SELECT ${COLS} FROM business_search s WHERE ${where(sql`s.popular`, sql`s.doc @@ ${tsq(`${categoryLexeme} & ${anyOf(p.radiusCells)}`)}`)} LIMIT ${p.k})`);
    } else {
      out.push(knn(sql`s.popular`));
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
  return (await searchQuery(p).execute(db)).rows;
}

/** The search statement, unexecuted (the benchmark EXPLAINs it). */
export function searchQuery(p: SearchParams): RawBuilder<SearchRow> {
  const distance = p.near ? sql`CASE WHEN u.lat IS NULL THEN NULL ELSE dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) END` : sql`NULL::float8`;
  const after = p.after ? sql`WHERE (score, business_id) < (${p.after.score}::float8, ${p.after.id})` : sql``;
  return sql<SearchRow>`
    WITH cand AS (${sql.join(branches(p), sql` UNION ALL `)}),
    uniq AS (SELECT DISTINCT ON (business_id) * FROM cand ORDER BY business_id),
    scored AS (SELECT u.*, ${distance} AS distance_km, (${scoreExpr(p)})::float8 AS score FROM uniq u),
    page AS (SELECT * FROM scored ${after} ORDER BY score DESC, business_id DESC LIMIT ${p.limit})
    SELECT p.business_id, p.display_name, p.category, p.country, p.languages, p.city, p.lat, p.lng, p.verified, p.follower_count,
           p.distance_km, p.score, dir_open_at(p.open_week, p.exc_region, p.exc_open, p.time_zone, ${p.at}::timestamptz) AS open_now,
           b.about, b.profile_picture_url, b.handle
    FROM page p JOIN business b ON b.id = p.business_id
    ORDER BY p.score DESC, p.business_id DESC`;
}

/** The words of a text as the index sees them (unaccent, lower case), in order. */
export async function normalizeWords(db: Db, text: string): Promise<string[]> {
  const { rows } = await sql<{ w: string }>`
    SELECT t.lexeme AS w FROM unnest(to_tsvector('kontor_simple', ${text})) t ORDER BY t.positions[1] LIMIT 8`.execute(db);
  return rows.map((r) => r.w);
}

export interface SuggestParams {
  /** tsquery over name_doc: typed words, the last one as a prefix. */
  tsquery: string;
  /** A partial last word longer than the indexed four letters: some name word must start with it. */
  refine?: string;
  /** The lexemes of tsquery: the rarest one decides whether looking everywhere is affordable. */
  lexemes: string[];
  /** Look everywhere only when the rarest lexeme is in at most this many documents. */
  specific: number;
  normalized: string;
  near?: Near;
  localCells?: string[];
  k: number;
  limit: number;
}

/**
 * Prefix completion over names only (name_doc): every typed word must
 * start a word of the name. Ranked by how much of the name is typed,
 * popularity, badge and distance.
 */
export async function suggestBusinesses(db: Db, p: SuggestParams): Promise<SearchRow[]> {
  return (await suggestQuery(p).execute(db)).rows;
}

/** The suggestion statement, unexecuted (the benchmark EXPLAINs it). */
export function suggestQuery(p: SuggestParams): RawBuilder<SearchRow> {
  const refine = p.refine ? sql`AND dir_norm(s.display_name) ~ ${`\\m${p.refine.replace(/[^\p{L}\p{N}]/gu, (c) => `\\${c}`)}`}` : sql``;
  const branch = (extra: RawBuilder<unknown>, match: string) =>
    sql`(SELECT ${SUGGEST_COLS} FROM business_search s WHERE ${extra} s.name_doc @@ ${tsq(match)} ${refine} LIMIT ${p.k})`;
  const parts = [branch(sql`s.popular AND`, p.tsquery)];
  // Gated inside the statement (an InitPlan evaluated once) so deciding costs no extra round trip.
  parts.push(
    branch(
      sql`(SELECT coalesce(min(coalesce(sw.n, 0)), 0) FROM unnest(${p.lexemes}::text[]) l LEFT JOIN search_word sw ON sw.word = l) <= ${p.specific} AND`,
      p.tsquery,
    ),
  );
  if (p.localCells) parts.push(branch(sql``, `(${p.tsquery}) & ${anyOf(p.localCells)}`));
  const proximity = p.near
    ? sql`CASE WHEN u.lat IS NULL THEN 0 ELSE ${RANK.proximity}::float8 / (1 + dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) / 5) END`
    : sql`0`;
  const distance = p.near ? sql`CASE WHEN u.lat IS NULL THEN NULL ELSE dir_distance_km(u.lat, u.lng, ${p.near.lat}::float8, ${p.near.lng}::float8) END` : sql`NULL::float8`;
  return sql<SearchRow>`
    WITH cand AS (${sql.join(parts, sql` UNION ALL `)}),
    uniq AS (SELECT DISTINCT ON (business_id) * FROM cand ORDER BY business_id),
    scored AS (
      SELECT u.*, ${distance} AS distance_km,
        (CASE WHEN dir_norm(u.display_name) LIKE ${p.normalized.replace(/[\\%_]/g, "")} || '%' THEN 0.3::float8 ELSE 0::float8 END
          + ${RANK.nameSimilarity}::float8 * similarity(dir_norm(u.display_name), ${p.normalized})
          + ${RANK.popularity}::float8 * (ln(1 + u.follower_count) / ln(1e6) + 0.5 * ln(1 + u.message_volume) / ln(1e7))
          + CASE WHEN u.verified THEN ${RANK.verified}::float8 ELSE 0 END
          + ${proximity})::float8 AS score
      FROM uniq u
    ), page AS (SELECT * FROM scored ORDER BY score DESC, business_id DESC LIMIT ${p.limit})
    SELECT p.business_id, p.display_name, p.category, p.country, p.languages, p.city, p.lat, p.lng, p.verified, p.follower_count,
           p.distance_km, p.score, false AS open_now, b.about, b.profile_picture_url, b.handle
    FROM page p JOIN business b ON b.id = p.business_id
    ORDER BY p.score DESC, p.business_id DESC`;
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
