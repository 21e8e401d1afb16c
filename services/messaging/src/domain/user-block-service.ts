import { InvalidInput } from "@kontor/service-kit/errors";
import type { UserBlockChange } from "./block-cache.js";
import { normalizeE164 } from "./participant.js";

/** Users one block_users request names at most (the Cloud API's limit). */
export const USERS_PER_REQUEST = 1000;
/** A business number blocks at most this many users (the Cloud API's 64K blocklist). */
export const BLOCKLIST_MAX = 64_000;
/** Only a customer who wrote to the number within this long can be blocked. */
export const BLOCKABLE_WITHIN_MS = 24 * 3600 * 1000;

/** The Cloud API's block codes (cloud-api.md §10.4). */
export const BLOCK_FAILED = 139100;
export const BLOCKLIST_FULL = 139101;

/** A stored pair's state; `at` undefined while never blocked. */
export interface UserBlockState {
  blocked: boolean;
  at: number | undefined;
}

/**
 * The change a request makes to a pair, or undefined when it is already so.
 * Its time is `now`, or just after the pair's last change when the clock is
 * behind it, so a pair's changes are strictly ordered whichever replica made them.
 */
export function userBlockChange(key: { phoneNumberId: string; customerId: string; businessId: string }, stored: UserBlockState, blocked: boolean, now: number): UserBlockChange | undefined {
  if (stored.blocked === blocked) return undefined;
  const at = stored.at !== undefined && now <= stored.at ? stored.at + 1 : now;
  return { ...key, blocked, at };
}

export interface BlockedUserResult {
  input: string;
  waId: string;
  customerId: string;
}

export interface FailedUserResult {
  input: string;
  code: number;
  message: string;
}

export interface BlockedUserRow {
  customerId: string;
  e164: string;
  blockedAt: Date;
}

export interface UserBlockCursor {
  t: string;
  c: string;
}

/** Per customer, what the store did: applied (or already so), or why not. */
export type UserBlockVerdict = { customerId: string; ok: true; change: UserBlockChange | undefined } | { customerId: string; ok: false; why: "not_recent" | "list_full" };

export interface UserBlockStorePort {
  /**
   * Blocks or unblocks these customers of one number in one transaction
   * (rows locked); a block needs a customer message since `recentSince` and
   * room in the list. Each change's event goes through the outbox.
   */
  setUserBlocks(input: { phoneNumberId: string; businessId: string; customerIds: string[]; blocked: boolean; now: number; recentSince: Date; max: number }): Promise<UserBlockVerdict[]>;
  listBlockedUsers(phoneNumberId: string, take: number, after: UserBlockCursor | undefined): Promise<BlockedUserRow[]>;
}

export interface UserBlockPorts {
  store: UserBlockStorePort;
  /** Customers by number (erased ones are not found). */
  customers: { byE164(e164: string): Promise<{ id: string; e164: string } | undefined> };
  /** This replica's blocks: its own changes apply at once, other replicas' through the events. */
  cache: { applyUser(change: UserBlockChange): boolean };
  now: () => number;
}

const WHY: Record<"not_recent" | "list_full" | "unknown" | "invalid", { code: number; message: string }> = {
  not_recent: { code: BLOCK_FAILED, message: "Failed to block user: only users who messaged the business number in the last 24 hours can be blocked" },
  list_full: { code: BLOCKLIST_FULL, message: "The blocklist of this business number is full (64,000 users)" },
  unknown: { code: BLOCK_FAILED, message: "Failed to block/unblock user: no WhatsApp user has this number" },
  invalid: { code: BLOCK_FAILED, message: "Failed to block/unblock user: not a phone number" },
};

/** Block users (the business's side, the Cloud API's block_users); the send path reads the cache. */
export function createUserBlockService(ports: UserBlockPorts) {
  async function change(phoneNumberId: string, businessId: string, users: string[], blocked: boolean): Promise<{ applied: BlockedUserResult[]; failed: FailedUserResult[] }> {
    if (users.length > USERS_PER_REQUEST) throw new InvalidInput("users", `at most ${USERS_PER_REQUEST} users per request`);
    const failed: FailedUserResult[] = [];
    const resolved: { input: string; customerId: string; e164: string }[] = [];
    const found = await Promise.all(users.map(async (input) => {
      const e164 = normalizeE164(input);
      if (!e164) return { input, why: "invalid" as const };
      const c = await ports.customers.byE164(e164);
      return c ? { input, customerId: c.id, e164 } : { input, why: "unknown" as const };
    }));
    for (const f of found) {
      if ("why" in f) failed.push({ input: f.input, ...WHY[f.why!] });
      else resolved.push(f as { input: string; customerId: string; e164: string });
    }
    const ids = [...new Set(resolved.map((r) => r.customerId))];
    const verdicts = ids.length === 0 ? [] : await ports.store.setUserBlocks({ phoneNumberId, businessId, customerIds: ids, blocked, now: ports.now(), recentSince: new Date(ports.now() - BLOCKABLE_WITHIN_MS), max: BLOCKLIST_MAX });
    const byCustomer = new Map(verdicts.map((v) => [v.customerId, v]));
    const applied: BlockedUserResult[] = [];
    for (const r of resolved) {
      const v = byCustomer.get(r.customerId);
      if (v?.ok) {
        if (v.change) ports.cache.applyUser(v.change);
        applied.push({ input: r.input, waId: r.e164.slice(1), customerId: r.customerId });
      } else {
        failed.push({ input: r.input, ...WHY[v?.why ?? "not_recent"] });
      }
    }
    return { applied, failed };
  }

  return {
    block: (phoneNumberId: string, businessId: string, users: string[]) => change(phoneNumberId, businessId, users, true),
    unblock: (phoneNumberId: string, businessId: string, users: string[]) => change(phoneNumberId, businessId, users, false),
    list: (phoneNumberId: string, take: number, after: UserBlockCursor | undefined) => ports.store.listBlockedUsers(phoneNumberId, take, after),
  };
}

export type UserBlockService = ReturnType<typeof createUserBlockService>;
