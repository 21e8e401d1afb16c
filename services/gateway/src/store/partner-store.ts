import { sql, type Kysely } from "kysely";
import { hashToken, isScope, newAccessToken, type PartnerPrincipal, type Scope, tokenVerdict, type TokenVerdict } from "../domain/partners.js";
import type { GatewayDatabase } from "./tables.js";

type Db = Kysely<GatewayDatabase>;

export interface PartnerInput {
  id: string;
  name: string;
  appSecret: string;
  verifyToken: string;
  callbackUrl?: string | null;
}

export interface PartnerRecord {
  id: string;
  name: string;
  appSecret: string;
  verifyToken: string;
  callbackUrl: string | null;
}

export async function upsertPartner(db: Db, p: PartnerInput): Promise<void> {
  await db
    .insertInto("partner")
    .values({ id: p.id, name: p.name, app_secret: p.appSecret, verify_token: p.verifyToken, callback_url: p.callbackUrl ?? null })
    .onConflict((oc) => oc.column("id").doUpdateSet({ name: p.name, app_secret: p.appSecret, verify_token: p.verifyToken, callback_url: p.callbackUrl ?? null }))
    .execute();
}

export async function getPartner(db: Db, partnerId: string): Promise<PartnerRecord | undefined> {
  const row = await db.selectFrom("partner").selectAll().where("id", "=", partnerId).executeTakeFirst();
  return row ? { id: row.id, name: row.name, appSecret: row.app_secret, verifyToken: row.verify_token, callbackUrl: row.callback_url } : undefined;
}

/** Issues a token and returns it: the only time the token exists outside the caller. */
export async function issueToken(db: Db, partnerId: string, scopes: readonly Scope[], options: { expiresAt?: Date | null; label?: string; token?: string } = {}): Promise<string> {
  const token = options.token ?? newAccessToken();
  await storeTokenHash(db, partnerId, hashToken(token), scopes, options);
  return token;
}

/** Registers a token by its hash (an operator or the local stack that minted the token elsewhere). */
export async function storeTokenHash(db: Db, partnerId: string, tokenHash: string, scopes: readonly Scope[], options: { expiresAt?: Date | null; label?: string } = {}): Promise<void> {
  await db
    .insertInto("partner_token")
    .values({ token_hash: tokenHash, partner_id: partnerId, scopes: [...scopes], expires_at: options.expiresAt ?? null, revoked_at: null, label: options.label ?? "" })
    .onConflict((oc) => oc.column("token_hash").doUpdateSet({ scopes: [...scopes], expires_at: options.expiresAt ?? null, partner_id: partnerId }))
    .execute();
}

export async function revokeToken(db: Db, token: string, at = new Date()): Promise<boolean> {
  const r = await db.updateTable("partner_token").set({ revoked_at: at }).where("token_hash", "=", hashToken(token)).where("revoked_at", "is", null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function linkBusiness(db: Db, partnerId: string, businessId: string, wabaId: string): Promise<void> {
  await db
    .insertInto("partner_business")
    .values({ partner_id: partnerId, business_id: businessId, waba_id: wabaId })
    .onConflict((oc) => oc.columns(["partner_id", "business_id"]).doUpdateSet({ waba_id: wabaId }))
    .execute();
}

export type Authentication = { verdict: "ok"; principal: PartnerPrincipal; expiresAt: Date | null } | { verdict: Exclude<TokenVerdict, "ok"> | "unknown" };

/** The partner behind a bearer token, with its scopes and businesses; one round trip. */
export async function authenticate(db: Db, token: string, now = new Date()): Promise<Authentication> {
  const row = await db
    .selectFrom("partner_token as t")
    .select(["t.partner_id", "t.scopes", "t.expires_at", "t.revoked_at"])
    .select(
      sql<{ business_id: string; waba_id: string }[]>`coalesce((SELECT json_agg(json_build_object('business_id', b.business_id, 'waba_id', b.waba_id) ORDER BY b.waba_id) FROM partner_business b WHERE b.partner_id = t.partner_id), '[]'::json)`.as("businesses"),
    )
    .where("t.token_hash", "=", hashToken(token))
    .executeTakeFirst();
  if (!row) return { verdict: "unknown" };
  const verdict = tokenVerdict(row, now);
  if (verdict !== "ok") return { verdict };
  return {
    verdict: "ok",
    expiresAt: row.expires_at,
    principal: {
      partnerId: row.partner_id,
      scopes: row.scopes.filter(isScope),
      businesses: row.businesses.map((b) => ({ businessId: b.business_id, wabaId: b.waba_id })),
    },
  };
}

/** The WABA of a business and the partner that manages it (webhooks). */
export async function wabaOfBusiness(db: Db, businessId: string): Promise<{ partnerId: string; wabaId: string } | undefined> {
  const row = await db.selectFrom("partner_business").select(["partner_id", "waba_id"]).where("business_id", "=", businessId).orderBy("created_at").executeTakeFirst();
  return row ? { partnerId: row.partner_id, wabaId: row.waba_id } : undefined;
}
