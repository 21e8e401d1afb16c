import { createHash } from "node:crypto";
import { InvalidInput } from "@kontor/service-kit/errors";
import { decodeCursor, encodeCursor } from "@kontor/service-kit/paging";
import { isCategory } from "./taxonomy.js";
import { coveringCells, validatePoint } from "./geo.js";
import { isCountry } from "./business.js";

/** One query word after the database has normalised it (unaccent + lower case). */
export interface PreparedToken {
  word: string;
  /** Stems of the word in the five launch languages (without the word itself). */
  stems: string[];
  /** Categories whose keywords contain the word or a stem ("padaria" → food.bakery), with their sizes. */
  categories: { code: string; n: number }[];
  /** How many businesses have the word (or one of its stems) in their document. */
  known: number;
  /** Some indexed word starts with it (search as you type). */
  prefixKnown: boolean;
  /** Close dictionary words (trigram similarity) when the word is rare or unknown, with their document counts. */
  corrections: { word: string; n: number }[];
  /** A short stop word in some language ("de", "the", "und"). */
  stop: boolean;
}

export interface TextQuery {
  /** tsquery text: every word must match one of its forms. */
  tsquery: string;
  /** What the index is asked (the rarest words); equal to tsquery for up to three words. */
  indexed: string;
  /** The query with typo corrections applied, when any were. */
  corrected?: string;
  /** Normalised words, for trigram similarity with names. */
  normalized: string;
  /** Upper bound of matching documents (the rarest word's forms added up). */
  estimate: number;
}

const MAX_TOKENS = 8;
/** A word that names more categories than this ("toko" = shop) is too vague to stand for them. */
const MAX_CATEGORY_FANOUT = 2;
/** Words a GIN scan is given; the rest are checked on the candidates. */
const INDEXED_WORDS = 3;
/** Shorter stems match too much by accident ("tok", "caf"). */
const MIN_STEM_LENGTH = 4;

export function quoteLexeme(lexeme: string): string {
  return `'${lexeme.replace(/\\/g, "").replace(/'/g, "''")}'`;
}

/**
 * Builds the text part of a search. Each word becomes an OR of its exact
 * form, its stems, the categories it names and, when the word is rare, its
 * closest dictionary words; words are ANDed. A last word that is not a word
 * yet also matches as a prefix (search as you type). Words that match
 * nothing and have no close word only rank (trigram similarity of names).
 */
export function buildTextQuery(tokens: PreparedToken[], rawQuery: string): TextQuery | undefined {
  const endsWithSpace = /\s$/.test(rawQuery);
  const lastWord = tokens[tokens.length - 1]?.word;
  const isPrefix = (t: PreparedToken) => t.word === lastWord && !endsWithSpace && t.word.length >= 3 && t.known === 0 && t.prefixKnown;
  const categoriesOf = (t: PreparedToken) => (t.categories.length <= MAX_CATEGORY_FANOUT ? t.categories : []);
  const matchable = (t: PreparedToken) => t.known > 0 || t.corrections.length > 0 || categoriesOf(t).length > 0 || isPrefix(t);
  const meaningful = tokens.filter((t) => !t.stop && matchable(t));
  const fallback = tokens.filter((t) => !t.stop);
  const used = (meaningful.length > 0 ? meaningful : fallback.length > 0 ? fallback : tokens).slice(0, MAX_TOKENS);
  if (used.length === 0) return undefined;
  let corrected = false;
  const groups = used.map((t) => {
    const forms = new Set<string>([quoteLexeme(t.word)]);
    let n = t.known;
    for (const s of t.stems) if (s.length >= MIN_STEM_LENGTH) forms.add(quoteLexeme(s));
    for (const c of categoriesOf(t)) {
      forms.add(quoteLexeme(`~${c.code}`));
      n += c.n;
    }
    for (const c of t.corrections) {
      forms.add(quoteLexeme(c.word));
      n += c.n;
    }
    if (isPrefix(t)) {
      forms.add(`${quoteLexeme(t.word)}:*`);
      n = Number.POSITIVE_INFINITY;
    }
    return { text: `(${[...forms].join(" | ")})`, n };
  });
  // The index only needs the three rarest words to find candidates; more words make GIN walk more
  // posting lists for little gain, so the others are checked on the fetched rows.
  const rarest = [...groups].sort((a, b) => a.n - b.n).slice(0, INDEXED_WORDS);
  const words = used.map((t) => {
    if (t.known === 0 && t.corrections.length > 0) {
      corrected = true;
      return t.corrections[0]!.word;
    }
    return t.word;
  });
  const tsquery = groups.map((g) => g.text).join(" & ");
  const indexed = groups.length > INDEXED_WORDS ? rarest.map((g) => g.text).join(" & ") : tsquery;
  return {
    tsquery,
    indexed,
    corrected: corrected ? words.join(" ") : undefined,
    normalized: tokens.map((t) => t.word).join(" "),
    estimate: rarest[0]?.n ?? Number.POSITIVE_INFINITY,
  };
}

/** Above this many matching documents, only popular and nearby candidates are fetched. */
export const BROAD_ESTIMATE = 8_000;

/** A tsquery that matches any of these lexemes. */
export function anyOf(lexemes: string[]): string {
  return `(${lexemes.map(quoteLexeme).join(" | ")})`;
}

export interface Near {
  lat: number;
  lng: number;
  /** 0 = distance only ranks. */
  radiusKm: number;
}

export interface SearchRequest {
  query: string;
  category: string;
  near?: { latitude: number; longitude: number; radiusKm: number };
  openNow: boolean;
  verifiedOnly: boolean;
  language: string;
  country: string;
}

export interface SearchFilters {
  query: string;
  category?: string;
  near?: Near;
  openNow: boolean;
  verifiedOnly: boolean;
  language?: string;
  country?: string;
}

export const MAX_RADIUS_KM = 20_000;
export const MAX_QUERY_LENGTH = 200;
/** Results beyond this many are not paged to (as in most search engines). */
export const MAX_RESULT_WINDOW = 1000;
/** Around the caller: the closest matches come from this radius, popular ones from the wider one. */
export const LOCAL_RADIUS_KM = 1;
export const NEARBY_RADIUS_KM = 10;

export function validateSearch(req: SearchRequest): SearchFilters {
  const query = req.query.trim();
  if (query.length > MAX_QUERY_LENGTH) throw new InvalidInput("query", `must be at most ${MAX_QUERY_LENGTH} characters`);
  if (req.category && !isCategory(req.category)) throw new InvalidInput("category", "is not a category from ListCategories");
  let near: Near | undefined;
  if (req.near) {
    const p = validatePoint({ lat: req.near.latitude, lng: req.near.longitude }, "near");
    if (!Number.isFinite(req.near.radiusKm) || req.near.radiusKm < 0 || req.near.radiusKm > MAX_RADIUS_KM) {
      throw new InvalidInput("near.radius_km", `must be between 0 and ${MAX_RADIUS_KM}`);
    }
    near = { ...p, radiusKm: req.near.radiusKm };
  }
  const language = req.language.trim().toLowerCase().split("-")[0] ?? "";
  if (language && !/^[a-z]{2,3}$/.test(language)) throw new InvalidInput("language", "must be a language tag such as pt or pt-BR");
  const country = req.country.trim().toUpperCase();
  if (country && !isCountry(country)) throw new InvalidInput("country", "must be an ISO 3166-1 alpha-2 code");
  return {
    query,
    category: req.category || undefined,
    near,
    openNow: req.openNow,
    verifiedOnly: req.verifiedOnly,
    language: language || undefined,
    country: country || undefined,
  };
}

/** Cells for a radius filter, and covers around the caller. */
export function searchCells(near: Near | undefined): { radius?: string[]; local?: string[]; nearby?: string[] } {
  if (!near) return {};
  const local = coveringCells(near, near.radiusKm > 0 ? Math.min(near.radiusKm, LOCAL_RADIUS_KM) : LOCAL_RADIUS_KM);
  if (near.radiusKm > 0) return { radius: coveringCells(near, near.radiusKm), local };
  return { local, nearby: coveringCells(near, NEARBY_RADIUS_KM) };
}

/**
 * Page token: the last (score, id) served, the snapshot time (businesses
 * created later are left out, so pages do not shift while others register),
 * how many were served, and a fingerprint of the query it belongs to.
 */
export interface SearchCursor {
  s: number;
  id: string;
  t: number;
  /** The instant open_now is evaluated at, kept for every page. */
  a: number;
  n: number;
  q: string;
}

const isCursor = (v: unknown): v is SearchCursor => {
  const c = v as SearchCursor;
  return typeof v === "object" && v !== null && typeof c.s === "number" && typeof c.id === "string" && typeof c.t === "number" && typeof c.a === "number" && typeof c.n === "number" && typeof c.q === "string";
};

export function fingerprint(f: SearchFilters): string {
  return createHash("sha256").update(JSON.stringify(f)).digest("base64url").slice(0, 16);
}

export function decodeSearchCursor(token: string, f: SearchFilters): SearchCursor | undefined {
  const c = decodeCursor(token, isCursor);
  if (c && c.q !== fingerprint(f)) throw new InvalidInput("page.page_token", "belongs to a different query");
  return c;
}

export function encodeSearchCursor(c: SearchCursor): string {
  return encodeCursor(c);
}

/** How many candidates each branch may fetch: enough for this page and the ones before it. */
export function candidateLimit(served: number, pageSize: number): number {
  return Math.max(64, Math.ceil((served + pageSize + 1) * 1.5));
}

/**
 * Ranking weights. score = text relevance (ts_rank with name > category >
 * city > description, plus trigram similarity of the name) + popularity
 * (log followers, log message volume) + verified badge + proximity.
 */
export const RANK = {
  /** ts_rank weights {D, C, B, A}. */
  weights: "{0.05, 0.2, 0.4, 1.0}",
  nameSimilarity: 0.5,
  popularity: 0.35,
  verified: 0.3,
  proximity: 0.6,
} as const;
