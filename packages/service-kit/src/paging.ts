import { InvalidInput } from "./errors.js";

/** Clamps a requested page size to [1, max], with a default for 0. */
export function pageSize(requested: number | undefined, defaultSize = 20, max = 100): number {
  if (requested === undefined || requested === 0) return defaultSize;
  if (requested < 0) throw new InvalidInput("page.page_size", "must not be negative");
  return Math.min(requested, max);
}

/** Opaque cursor: base64url of JSON. Callers must not build or parse it. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export function decodeCursor<T>(token: string, check: (value: unknown) => value is T, field = "page.page_token"): T | undefined {
  if (!token) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (check(value)) return value;
  } catch {
    // fall through
  }
  throw new InvalidInput(field, "is not a token this service issued");
}

export interface PageRequest {
  pageSize?: number;
  pageToken?: string;
}

export interface PageStart<C> {
  /** Rows the page returns at most. */
  limit: number;
  /** Rows to ask the store for: one more than the page, so the extra says whether a next page exists. */
  take: number;
  /** Where the previous page ended; undefined on the first page. */
  cursor: C | undefined;
}

/** A list request's page size (defaulted, capped) and its decoded cursor. */
export function readPage<C>(page: PageRequest | undefined, isCursor: (value: unknown) => value is C, max: number, defaultSize = 20): PageStart<C> {
  const limit = pageSize(page?.pageSize, defaultSize, max);
  return { limit, take: limit + 1, cursor: decodeCursor(page?.pageToken ?? "", isCursor) };
}

/**
 * One page from rows fetched with `take` (limit + 1): at most `limit` items,
 * and a token built from the last item's cursor when more rows followed.
 */
export function pageOf<R>(rows: R[], limit: number, cursorOf: (last: R) => unknown): { items: R[]; page: { nextPageToken: string } } {
  const items = rows.length > limit ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, page: { nextPageToken: rows.length > limit && last !== undefined ? encodeCursor(cursorOf(last)) : "" } };
}
