import { createHash, randomBytes } from "node:crypto";

/** The Cloud API permissions a partner token can hold (cloud-api.md §0). */
export const SCOPES = ["whatsapp_business_messaging", "whatsapp_business_management"] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

/** A partner as an authenticated request sees it. */
export interface PartnerPrincipal {
  partnerId: string;
  scopes: readonly Scope[];
  /** Every business the partner manages, with its WABA id. */
  businesses: readonly { businessId: string; wabaId: string }[];
}

/**
 * A new access token: "KGW" + 43 url-safe characters of 32 random bytes.
 * Only its SHA-256 is stored (the token has 256 bits of entropy, so a slow
 * hash adds nothing and would cost every request).
 */
export function newAccessToken(): string {
  return `KGW${randomBytes(32).toString("base64url")}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export type TokenVerdict = "ok" | "revoked" | "expired";

export function tokenVerdict(row: { revoked_at: Date | null; expires_at: Date | null }, now: Date): TokenVerdict {
  if (row.revoked_at && row.revoked_at <= now) return "revoked";
  if (row.expires_at && row.expires_at <= now) return "expired";
  return "ok";
}

/** A WABA id: numeric like the Cloud API's (15 digits starting with 1). */
export function newNumericId(): string {
  const digits = randomBytes(14).reduce((s, b) => s + String(b % 10), "");
  return `1${digits}`;
}
