import { createSecretKey, type KeyObject } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { newDataKey, unwrapKey, wrapKey } from "../domain/crypto.js";
import type { MessagingDatabase } from "./database.js";

export interface DataKey {
  keyId: number;
  key: KeyObject;
}

/**
 * Data keys per business, wrapped by the master key in business_key. Cached
 * in memory after the first use; decryption happens only in this service.
 * An erased key is remembered as `null` so reads report content_erased.
 */
export function createKeyring(db: Kysely<MessagingDatabase>, master: Buffer) {
  const byBusiness = new Map<string, DataKey>();
  const byId = new Map<number, KeyObject | null>();
  const loading = new Map<string, Promise<DataKey>>();

  async function load(businessId: string): Promise<DataKey> {
    let row = await db.selectFrom("business_key").select(["key_id", "wrapped_key"]).where("business_id", "=", businessId).where("erased_at", "is", null).executeTakeFirst();
    if (!row) {
      await sql`INSERT INTO business_key (business_id, wrapped_key) VALUES (${businessId}, ${wrapKey(master, newDataKey())})
        ON CONFLICT (business_id) WHERE erased_at IS NULL DO NOTHING`.execute(db);
      row = await db.selectFrom("business_key").select(["key_id", "wrapped_key"]).where("business_id", "=", businessId).where("erased_at", "is", null).executeTakeFirstOrThrow();
    }
    const key = createSecretKey(unwrapKey(master, row.wrapped_key!));
    const dk = { keyId: row.key_id, key };
    byBusiness.set(businessId, dk);
    byId.set(row.key_id, key);
    return dk;
  }

  return {
    /** The active key of a business; created on first use (race-safe across replicas). */
    forBusiness(businessId: string): DataKey | Promise<DataKey> {
      const hit = byBusiness.get(businessId);
      if (hit) return hit;
      let p = loading.get(businessId);
      if (!p) {
        p = load(businessId).finally(() => loading.delete(businessId));
        loading.set(businessId, p);
      }
      return p;
    },
    /** A key by id for decryption; null once erased. */
    async byId(keyId: number): Promise<KeyObject | null> {
      const hit = byId.get(keyId);
      if (hit !== undefined) return hit;
      const row = await db.selectFrom("business_key").select(["wrapped_key"]).where("key_id", "=", keyId).executeTakeFirst();
      const key = row?.wrapped_key ? createSecretKey(unwrapKey(master, row.wrapped_key)) : null;
      byId.set(keyId, key);
      return key;
    },
    cachedById(keyId: number): KeyObject | null | undefined {
      return byId.get(keyId);
    },
    /** Forgets the keys of a business (after erasure here or on another replica). */
    evict(businessId: string, keyIds: number[]): void {
      byBusiness.delete(businessId);
      for (const id of keyIds) byId.set(id, null);
    },
    /** Destroys the wrapped key: rows encrypted with it become unreadable. */
    async erase(businessId: string): Promise<number[]> {
      const rows = await db
        .updateTable("business_key")
        .set({ wrapped_key: null, erased_at: new Date() })
        .where("business_id", "=", businessId)
        .where("erased_at", "is", null)
        .returning("key_id")
        .execute();
      const ids = rows.map((r) => r.key_id);
      this.evict(businessId, ids);
      return ids;
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
