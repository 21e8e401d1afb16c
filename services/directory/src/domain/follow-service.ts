import { sql, type Kysely } from "kysely";
import { NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import {
  addFollow,
  bumpFollowerCount,
  isErasedCustomer,
  listFollowed,
  listFollowers,
  recordCustomerErasure,
  removeCustomerFollows,
  removeFollow,
} from "../store/follow-store.js";
import type { DirectoryDatabase } from "../store/database.js";
import { findBusiness, followerCounts } from "../store/business-store.js";
import { followChangedEvent } from "../events/outbox.js";
import type { DirectoryPorts, DirectoryService } from "./directory-service.js";
import type { Business } from "./business.js";

const CUSTOMER_ID = /^[A-Za-z0-9_.:+-]{1,128}$/;

export function isCustomerId(id: string): boolean {
  return CUSTOMER_ID.test(id);
}

/** A follow and a customer's erasure take the same lock, so no follow slips in beside an erasure. */
function lockCustomer(trx: Kysely<DirectoryDatabase>, customerId: string) {
  return sql`SELECT pg_advisory_xact_lock(hashtext(${`customer:${customerId}`}))`.execute(trx);
}

/** WeChat-style following of official accounts: the audience broadcasts may reach (with opt-in kept by messaging). */
export function createFollowService(ports: DirectoryPorts, directory: DirectoryService) {
  const { db } = ports;

  async function change(businessId: string, customerId: string, following: boolean): Promise<{ following: boolean; followerCount: number }> {
    return db.transaction().execute(async (trx) => {
      if (!(await findBusiness(trx, businessId))) throw new NotFound("business");
      if (following) {
        await lockCustomer(trx, customerId);
        if (await isErasedCustomer(trx, customerId)) throw new PolicyRefused("CUSTOMER_ERASED", "this customer's data was erased");
      }
      const changed = following ? await addFollow(trx, businessId, customerId) : await removeFollow(trx, businessId, customerId);
      if (!changed) {
        const counts = await followerCounts(trx, [businessId]);
        return { following, followerCount: counts.get(businessId) ?? 0 };
      }
      const followerCount = await bumpFollowerCount(trx, businessId, following ? 1 : -1);
      await ports.enqueue(trx, [followChangedEvent(businessId, customerId, following, followerCount)]);
      return { following, followerCount };
    });
  }

  /**
   * A customer erased by messaging: its follows go (each business's count
   * drops and FollowChanged tells the audiences) and the erasure is
   * recorded, in the caller's transaction (the consumer's `once`).
   */
  async function eraseCustomer(trx: Kysely<DirectoryDatabase>, customerId: string, erasedAt: Date): Promise<number> {
    await lockCustomer(trx, customerId);
    const businesses = await removeCustomerFollows(trx, customerId);
    for (const businessId of businesses) {
      const followerCount = await bumpFollowerCount(trx, businessId, -1);
      await ports.enqueue(trx, [followChangedEvent(businessId, customerId, false, followerCount)]);
    }
    await recordCustomerErasure(trx, customerId, erasedAt, businesses.length);
    return businesses.length;
  }

  return {
    eraseCustomer,
    follow: (businessId: string, customerId: string) => change(businessId, customerId, true),
    unfollow: (businessId: string, customerId: string) => change(businessId, customerId, false),

    async followers(businessId: string, limit: number, after?: { at: Date; key: string }) {
      const [rows, counts] = await Promise.all([listFollowers(db, businessId, limit, after), followerCounts(db, [businessId])]);
      return { followers: rows.map((r) => ({ customerId: r.customer_id, followedAt: r.followed_at })), followerCount: counts.get(businessId) ?? 0 };
    },

    async followed(customerId: string, limit: number, after?: { at: Date; key: string }): Promise<{ business: Business; followedAt: Date }[]> {
      const rows = await listFollowed(db, customerId, limit, after);
      const out: { business: Business; followedAt: Date }[] = [];
      for (const r of rows) {
        const business = await directory.load(db, r.business_id);
        if (business) out.push({ business, followedAt: r.followed_at });
      }
      return out;
    },
  };
}

export type FollowService = ReturnType<typeof createFollowService>;
