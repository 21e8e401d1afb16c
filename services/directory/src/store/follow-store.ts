import { sql, type Kysely } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import type { FollowRow } from "./follow.table.js";

type Db = Kysely<DirectoryDatabase>;

/** Inserts the follow; true when it is new. */
export async function addFollow(db: Db, businessId: string, customerId: string): Promise<boolean> {
  const row = await db
    .insertInto("follow")
    // Millisecond clock: page cursors carry ms, so rows must not differ below that.
    .values({ business_id: businessId, customer_id: customerId, followed_at: new Date() })
    .onConflict((oc) => oc.columns(["business_id", "customer_id"]).doNothing())
    .returning("customer_id")
    .executeTakeFirst();
  return row !== undefined;
}

/** Deletes the follow; true when there was one. */
export async function removeFollow(db: Db, businessId: string, customerId: string): Promise<boolean> {
  const row = await db.deleteFrom("follow").where("business_id", "=", businessId).where("customer_id", "=", customerId).returning("customer_id").executeTakeFirst();
  return row !== undefined;
}

/** Moves the follower count (held on the search row, where ranking reads it) and returns the new value. */
export async function bumpFollowerCount(db: Db, businessId: string, delta: number): Promise<number> {
  const row = await db
    .updateTable("business_search")
    .set({ follower_count: sql<number>`greatest(0, follower_count + ${delta})` })
    .where("business_id", "=", businessId)
    .returning("follower_count")
    .executeTakeFirstOrThrow();
  return row.follower_count;
}

export async function isFollowing(db: Db, businessId: string, customerId: string): Promise<boolean> {
  const row = await db.selectFrom("follow").select("customer_id").where("business_id", "=", businessId).where("customer_id", "=", customerId).executeTakeFirst();
  return row !== undefined;
}

type After = { at: Date; key: string };

/** Newest first; the cursor is (followed_at, customer_id) of the last row seen. */
export async function listFollowers(db: Db, businessId: string, limit: number, after?: After): Promise<FollowRow[]> {
  let q = db.selectFrom("follow").selectAll().where("business_id", "=", businessId);
  if (after) q = q.where((eb) => eb.or([eb("followed_at", "<", after.at), eb.and([eb("followed_at", "=", after.at), eb("customer_id", ">", after.key)])]));
  return q.orderBy("followed_at", "desc").orderBy("customer_id").limit(limit).execute();
}

/** Newest first; the cursor is (followed_at, business_id) of the last row seen. */
export async function listFollowed(db: Db, customerId: string, limit: number, after?: After): Promise<FollowRow[]> {
  let q = db.selectFrom("follow").selectAll().where("customer_id", "=", customerId);
  if (after) q = q.where((eb) => eb.or([eb("followed_at", "<", after.at), eb.and([eb("followed_at", "=", after.at), eb("business_id", ">", after.key)])]));
  return q.orderBy("followed_at", "desc").orderBy("business_id").limit(limit).execute();
}

/** Adds to the message volume popularity signal. */
export async function addMessageVolume(db: Db, businessId: string, n: number): Promise<void> {
  await db
    .updateTable("business_search")
    .set({ message_volume: sql<string>`message_volume + ${n}` })
    .where("business_id", "=", businessId)
    .execute();
}

/** Deletes every follow of a customer; returns the businesses it followed. */
export async function removeCustomerFollows(db: Db, customerId: string): Promise<string[]> {
  const rows = await db.deleteFrom("follow").where("customer_id", "=", customerId).returning("business_id").execute();
  return rows.map((r) => r.business_id).sort();
}

/** Records a customer's erasure once; false when it was recorded before. */
export async function recordCustomerErasure(db: Db, customerId: string, erasedAt: Date, followsRemoved: number): Promise<boolean> {
  const row = await db
    .insertInto("customer_erasure")
    .values({ customer_id: customerId, erased_at: erasedAt, follows_removed: followsRemoved })
    .onConflict((oc) => oc.column("customer_id").doNothing())
    .returning("customer_id")
    .executeTakeFirst();
  return row !== undefined;
}

export async function isErasedCustomer(db: Db, customerId: string): Promise<boolean> {
  const row = await db.selectFrom("customer_erasure").select("customer_id").where("customer_id", "=", customerId).executeTakeFirst();
  return row !== undefined;
}
