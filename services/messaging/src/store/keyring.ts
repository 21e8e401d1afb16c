import { createSecretKey, type KeyObject } from "node:crypto";
import { sql, type Kysely } from "kysely";
import { DataCorrupted } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import { keyErasedRefusal, newDataKey, openBody, unwrapKey, wrapKey } from "../domain/crypto.js";
import type { MessagingDatabase } from "./database.js";

export interface DataKey {
  keyId: number;
  key: KeyObject;
}

/** SQLSTATE of the message insert trigger that refuses erased keys (migration 2026_12_01_220000). */
export const KEY_ERASED_CODE = "KR003";

/** Advisory lock class of "one business's keys" (creation vs erasure); the object id is hashtext(business id). */
const KEY_LOCK_CLASS = 0x6b657973;

type KeyRow = { key_id: number; wrapped_key: Uint8Array | null; erased_at: Date | null };

/**
 * Data keys per business, wrapped by the master key in business_key; all
 * decryption happens in this service. A business with an erased key row is
 * erased for good: it is never handed a key to seal with again.
 *
 * What a replica knows of erasures lives in memory (no database read per
 * send): its own erasures, the BusinessKeyErased events (events/key-erasure.ts),
 * the key rows it loads, and commits refused by the message trigger for a key
 * erased before this replica heard of it (refusedByCommit).
 */
export function createKeyring(db: Kysely<MessagingDatabase>, master: Buffer, log: Logger) {
  const byBusiness = new Map<string, DataKey>();
  /** A key by id; null once erased. */
  const byId = new Map<number, KeyObject | null>();
  const erasedBusinesses = new Set<string>();
  const loading = new Map<string, Promise<DataKey>>();

  function keyRows(q: Kysely<MessagingDatabase>, businessId: string): Promise<KeyRow[]> {
    return q.selectFrom("business_key").select(["key_id", "wrapped_key", "erased_at"]).where("business_id", "=", businessId).execute();
  }

  /** The active row, or "erased" when any key of the business was erased, or undefined when it has none. */
  function activeOf(businessId: string, rows: KeyRow[]): KeyRow | "erased" | undefined {
    const erased = rows.filter((r) => r.erased_at !== null);
    if (erased.length > 0) {
      evict(businessId, erased.map((r) => r.key_id));
      return "erased";
    }
    return rows[0];
  }

  async function load(businessId: string): Promise<DataKey> {
    let row = activeOf(businessId, await keyRows(db, businessId));
    if (row === undefined) {
      // First use: create the key under the business's lock, which erase() takes too.
      row = await db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK_CLASS}, hashtext(${businessId}))`.execute(trx);
        const again = activeOf(businessId, await keyRows(trx, businessId));
        if (again !== undefined) return again;
        return trx
          .insertInto("business_key")
          .values({ business_id: businessId, wrapped_key: wrapKey(master, newDataKey()) })
          .returning(["key_id", "wrapped_key", "erased_at"])
          .executeTakeFirstOrThrow();
      });
    }
    // An erasure heard while this load ran wins over what it read.
    if (row === "erased" || erasedBusinesses.has(businessId) || byId.get(row.key_id) === null) throw keyErasedRefusal();
    const key = createSecretKey(unwrapKey(master, row.wrapped_key!));
    const dk = { keyId: row.key_id, key };
    byBusiness.set(businessId, dk);
    byId.set(row.key_id, key);
    return dk;
  }

  async function fetchById(keyId: number): Promise<KeyObject | null> {
    const row = await db.selectFrom("business_key").select(["wrapped_key"]).where("key_id", "=", keyId).executeTakeFirst();
    // Key rows are never deleted: a message naming a missing one is damaged, not erased.
    if (!row) throw new DataCorrupted("a stored message names a data key that does not exist");
    const key = row.wrapped_key ? createSecretKey(unwrapKey(master, row.wrapped_key)) : null;
    // An eviction heard during the read wins.
    if (byId.get(keyId) === null) return null;
    byId.set(keyId, key);
    return key;
  }

  function openLogged(keyId: number, key: KeyObject | null, blob: Uint8Array, aad: Buffer): Buffer | undefined {
    try {
      return openBody(key, blob, aad);
    } catch (err) {
      if (err instanceof DataCorrupted) log.error({ key_id: keyId, message_id: aad.toString() }, "a stored message body failed its integrity check");
      throw err;
    }
  }

  function evict(businessId: string, keyIds: number[]): void {
    erasedBusinesses.add(businessId);
    byBusiness.delete(businessId);
    for (const id of keyIds) byId.set(id, null);
  }

  return {
    /**
     * The active key of a business for sealing; created on first use
     * (race-safe across replicas). Throws PolicyRefused BUSINESS_KEY_ERASED
     * for an erased business. A hit is synchronous (the send path).
     */
    forBusiness(businessId: string): DataKey | Promise<DataKey> {
      const hit = byBusiness.get(businessId);
      if (hit) return hit;
      if (erasedBusinesses.has(businessId)) throw keyErasedRefusal();
      let p = loading.get(businessId);
      if (!p) {
        p = load(businessId).finally(() => loading.delete(businessId));
        loading.set(businessId, p);
      }
      return p;
    },

    /** A key by id for decryption; null once erased. */
    byId(keyId: number): Promise<KeyObject | null> {
      const hit = byId.get(keyId);
      return hit !== undefined ? Promise.resolve(hit) : fetchById(keyId);
    },

    cachedById(keyId: number): KeyObject | null | undefined {
      return byId.get(keyId);
    },

    /**
     * A stored body in plaintext: undefined when its key was erased; a body
     * that fails its tag under a key that exists throws DataCorrupted (logged).
     */
    async open(keyId: number, blob: Uint8Array, aad: Buffer): Promise<Buffer | undefined> {
      const cached = byId.get(keyId);
      return openLogged(keyId, cached === undefined ? await fetchById(keyId) : cached, blob, aad);
    },

    /** Whether this replica knows the business as erased. */
    isErased(businessId: string): boolean {
      return erasedBusinesses.has(businessId);
    },

    /** Forgets the keys of a business and refuses to seal for it (after erasure here or on another replica). Idempotent. */
    evict,

    /**
     * When a group commit failed because the message trigger refused erased
     * keys: marks them erased here and returns their ids (the batch's other
     * sends may be redone). Otherwise undefined.
     */
    refusedByCommit(err: unknown): Set<number> | undefined {
      const e = err as { code?: string; detail?: string };
      if (e?.code !== KEY_ERASED_CODE) return undefined;
      const ids = new Set<number>();
      try {
        for (const r of JSON.parse(e.detail ?? "[]") as { key_id: number; business_id: string }[]) {
          evict(r.business_id, [r.key_id]);
          ids.add(r.key_id);
        }
      } catch {
        // not the trigger's DETAIL: fail the batch as it is
      }
      return ids.size > 0 ? ids : undefined;
    },

    /**
     * Destroys the business's keys: rows encrypted with them become
     * unreadable, and the business is refused from now on. `inTransaction`
     * runs in the same transaction with the destroyed key ids (the
     * BusinessKeyErased event into the outbox); it is not called when nothing
     * changed (already erased). A business without a key gets an erased row,
     * so it is refused too.
     */
    async erase(businessId: string, inTransaction: (trx: Kysely<MessagingDatabase>, keyIds: number[]) => Promise<void>): Promise<number[]> {
      const ids = await db.transaction().execute(async (trx) => {
        // Inserts already under way commit first; later ones run their key check
        // (the message trigger) after this commits. Blocks message writes only
        // for the few statements below.
        await sql`LOCK TABLE message IN SHARE MODE`.execute(trx);
        await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK_CLASS}, hashtext(${businessId}))`.execute(trx);
        const rows = await trx
          .updateTable("business_key")
          .set({ wrapped_key: null, erased_at: new Date() })
          .where("business_id", "=", businessId)
          .where("erased_at", "is", null)
          .returning("key_id")
          .execute();
        const keyIds = rows.map((r) => r.key_id);
        let changed = keyIds.length > 0;
        if (!changed && (await keyRows(trx, businessId)).length === 0) {
          await trx.insertInto("business_key").values({ business_id: businessId, wrapped_key: null, erased_at: new Date() }).execute();
          changed = true;
        }
        if (changed) await inTransaction(trx, keyIds);
        return keyIds;
      });
      evict(businessId, ids);
      return ids;
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
