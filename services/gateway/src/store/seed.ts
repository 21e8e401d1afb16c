import { z } from "zod";
import type { Kysely } from "kysely";
import { SCOPES } from "../domain/partners.js";
import { linkBusiness, storeTokenHash, upsertPartner } from "./partner-store.js";
import type { GatewayDatabase } from "./tables.js";

const seedSchema = z.array(
  z.object({
    id: z.string().min(1),
    name: z.string().min(1),
    appSecret: z.string().min(8),
    verifyToken: z.string().min(1),
    callbackUrl: z.string().nullable().optional(),
    tokenSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    scopes: z.array(z.enum(SCOPES)).default([...SCOPES]),
    businesses: z.array(z.object({ businessId: z.string().min(1), wabaId: z.string().regex(/^\d{1,30}$/) })).default([]),
  }),
);

export type Seed = z.infer<typeof seedSchema>;

/** GATEWAY_SEED → partners, their token hashes and businesses (created or updated, so a restart is harmless). */
export function parseSeed(json: string): Seed {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error("GATEWAY_SEED is not JSON");
  }
  const parsed = seedSchema.safeParse(value);
  if (!parsed.success) throw new Error(`GATEWAY_SEED is invalid at ${parsed.error.issues[0]?.path.join(".") ?? "?"}: ${parsed.error.issues[0]?.message ?? ""}`);
  return parsed.data;
}

export async function applySeed(db: Kysely<GatewayDatabase>, seed: Seed): Promise<void> {
  for (const p of seed) {
    await db.transaction().execute(async (trx) => {
      await upsertPartner(trx, { id: p.id, name: p.name, appSecret: p.appSecret, verifyToken: p.verifyToken, callbackUrl: p.callbackUrl ?? null });
      if (p.tokenSha256) {
        await storeTokenHash(trx, p.id, p.tokenSha256, p.scopes, { label: "seed" });
        // A new seed token replaces the previous start's.
        await trx.updateTable("partner_token").set({ revoked_at: new Date() }).where("partner_id", "=", p.id).where("label", "=", "seed").where("token_hash", "<>", p.tokenSha256).where("revoked_at", "is", null).execute();
      }
      for (const b of p.businesses) await linkBusiness(trx, p.id, b.businessId, b.wabaId);
    });
  }
}
