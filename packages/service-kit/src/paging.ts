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
