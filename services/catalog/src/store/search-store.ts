import { sql, type Kysely } from "kysely";
import type { CatalogDatabase } from "./database.js";
import type { ProductRow } from "./product.table.js";
import type { PreparedPool } from "./order-store.js";

type Db = Kysely<CatalogDatabase>;

/** For each query word: is it in the catalog's dictionary, and, only when it is not, up to three close words (trigram similarity) that are. */
const WORD_ALTERNATIVES = `
  SELECT q.w,
    EXISTS (SELECT 1 FROM product_word pw WHERE pw.catalog_id = $1::uuid AND pw.word = q.w) AS exact,
    CASE WHEN EXISTS (SELECT 1 FROM product_word pw WHERE pw.catalog_id = $1::uuid AND pw.word = q.w) THEN '{}'::text[]
    ELSE ARRAY(SELECT pw.word FROM product_word pw WHERE pw.catalog_id = $1::uuid AND pw.word % q.w AND pw.word <> q.w
               ORDER BY similarity(pw.word, q.w) DESC, pw.word LIMIT 3) END AS alts
  FROM unnest($2::text[]) AS q(w)`;

export async function wordAlternatives(pool: PreparedPool, catalogId: string, words: string[]): Promise<{ w: string; exact: boolean; alts: string[] }[]> {
  if (words.length === 0) return [];
  const { rows } = await pool.query<{ w: string; exact: boolean; alts: string[] }>({ name: "catalog_word_alternatives", text: WORD_ALTERNATIVES, values: [catalogId, words] });
  return rows;
}

export interface SearchParams {
  catalogId: string;
  /** A to_tsquery('simple') expression built from normalised words; undefined browses. */
  tsquery: string | undefined;
  categories: string[];
  minPriceMinor: bigint | undefined;
  maxPriceMinor: bigint | undefined;
  availability: number[];
  includeHidden: boolean;
  now: Date;
  limit: number;
  /** Text alone: matches ranked at most (see searchProducts). */
  rankCap: number;
  /** Text search: (rank, id) of the last row seen and, text alone, the first page's seq bound; browse: (created_at, id). */
  after: { rank: number; id: string; seq?: string } | { createdAt: Date; id: string } | undefined;
}

export type RankedRow = ProductRow & { rank: number; seq_bound?: string };

/**
 * One page of a catalog's products. Text search orders by rank, then id;
 * browsing orders newest first. Either way the cursor is the last row's
 * sort key, so rows inserted meanwhile never repeat or push rows out of a page.
 */
const TEXT_SEARCH = `
  WITH b AS (SELECT coalesce($6::bigint, pg_sequence_last_value('product_search_seq_seq'::regclass), 0) AS seq),
  found AS (
    SELECT s.id, s.doc FROM product_search s
    WHERE s.catalog_id = $1::uuid AND NOT s.archived AND (s.visible OR $5::boolean) AND s.doc @@ to_tsquery('simple'::regconfig, $2) AND s.seq <= (SELECT seq FROM b)
    LIMIT $3
  ), c AS (
    SELECT found.id, ts_rank(found.doc, to_tsquery('simple'::regconfig, $2)) AS rank FROM found
  ), page AS (
    SELECT c.id, c.rank FROM c
    WHERE $7::float4 IS NULL OR c.rank < $7::float4 OR (c.rank = $7::float4 AND c.id > $8::uuid)
    ORDER BY c.rank DESC, c.id ASC LIMIT $4
  )
  SELECT full_row.*, page.rank, (SELECT seq FROM b)::text AS seq_bound
  FROM page JOIN product full_row ON full_row.id = page.id
  ORDER BY page.rank DESC, full_row.id ASC`;

export async function searchProducts(db: Db, pool: PreparedPool, p: SearchParams): Promise<RankedRow[]> {
  const effective = sql<string>`(CASE WHEN p.sale_price_minor IS NOT NULL AND (p.sale_starts_at IS NULL OR p.sale_starts_at <= ${p.now}) AND (p.sale_ends_at IS NULL OR p.sale_ends_at > ${p.now}) THEN p.sale_price_minor ELSE p.price_minor END)`;
  const query = p.tsquery === undefined ? undefined : sql`to_tsquery('simple'::regconfig, ${p.tsquery})`;
  const rank = query ? sql<number>`ts_rank(p.doc, ${query})` : sql<number>`0::float4`;
  let q = db
    .selectFrom("product as p")
    .selectAll("p")
    .select(rank.as("rank"))
    .where("p.catalog_id", "=", p.catalogId)
    .where("p.archived_at", "is", null);
  if (!p.includeHidden) q = q.where("p.visible", "=", true);
  if (query) q = q.where(sql<boolean>`p.doc @@ ${query}`);
  if (p.categories.length > 0) q = q.where(sql<boolean>`p.categories && ${p.categories}::text[]`);
  if (p.availability.length > 0) q = q.where("p.availability", "in", p.availability);
  if (p.minPriceMinor !== undefined) q = q.where(sql<boolean>`${effective} >= ${p.minPriceMinor.toString()}::bigint`);
  if (p.maxPriceMinor !== undefined) q = q.where(sql<boolean>`${effective} <= ${p.maxPriceMinor.toString()}::bigint`);
  if (query && p.categories.length === 0 && p.availability.length === 0 && p.minPriceMinor === undefined && p.maxPriceMinor === undefined) {
    // Text alone: rank at most rankCap matches of the narrow product_search rows, in
    // the order the scan finds them (a broad word matches a tenth of a catalog, and
    // reading and ranking every match is what a search costs), then read whole rows
    // for the page only. Every page of a query sees the same candidates: rows
    // inserted after its first page (seq above the bound it carries) are left out.
    // A prepared statement: planned once per connection, not per search.
    const after = p.after as { rank: number; id: string; seq?: string } | undefined;
    const r = await pool.query<RankedRow & { seq_bound: string }>({
      name: "catalog_text_search",
      text: TEXT_SEARCH,
      values: [p.catalogId, p.tsquery, p.rankCap, p.limit, p.includeHidden, after?.seq ?? null, after?.rank ?? null, after?.id ?? null],
    });
    return r.rows;
  }
  if (query) {
    const after = p.after as { rank: number; id: string } | undefined;
    if (after) q = q.where(sql<boolean>`(${rank} < ${after.rank}::float4 OR (${rank} = ${after.rank}::float4 AND p.id > ${after.id}::uuid))`);
    // Rank narrow (id, rank) pairs and read whole rows only for the page: a broad word matches thousands.
    const page = q.clearSelect().select(["p.id"]).select(rank.as("rank")).orderBy(sql`${rank}`, "desc").orderBy("p.id", "asc").limit(p.limit);
    return db
      .selectFrom(page.as("m"))
      .innerJoin("product as full", "full.id", "m.id")
      .selectAll("full")
      .select("m.rank")
      .orderBy("m.rank", "desc")
      .orderBy("full.id", "asc")
      .execute() as Promise<RankedRow[]>;
  }
  const after = p.after as { createdAt: Date; id: string } | undefined;
  if (after) q = q.where((eb) => eb.or([eb("p.created_at", "<", after.createdAt), eb.and([eb("p.created_at", "=", after.createdAt), eb("p.id", "<", after.id)])]));
  return q.orderBy("p.created_at", "desc").orderBy("p.id", "desc").limit(p.limit).execute() as Promise<RankedRow[]>;
}
