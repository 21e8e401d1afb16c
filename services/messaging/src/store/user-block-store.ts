import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { UserBlockChange } from "../domain/block-cache.js";
import { userBlockChange, type BlockedUserRow, type UserBlockCursor, type UserBlockVerdict } from "../domain/user-block-service.js";
import { userBlockChangedEvent } from "../events/user-blocks.js";
import type { MessagingDatabase } from "./database.js";

type Enqueue = (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>;

/** A row that stands for "never blocked" so a first block has a row to lock (its time is older than any change). */
const NEVER = new Date(0);

/**
 * Blocks or unblocks customers of one number in one transaction. A block
 * first inserts a never-blocked row for each pair that has none, so every
 * pair's row can be locked; then the rows are locked, each change is decided
 * against the stored state (user-block-service.ts), written, and its event
 * enqueued. Blocks also need the customer's last message to the number since
 * `recentSince`, and room in the number's list.
 */
export async function setUserBlocks(
  trx: Kysely<MessagingDatabase>,
  enqueue: Enqueue,
  input: { phoneNumberId: string; businessId: string; customerIds: string[]; blocked: boolean; now: number; recentSince: Date; max: number },
): Promise<UserBlockVerdict[]> {
  const { phoneNumberId, businessId, customerIds, blocked, now } = input;
  let allowed = new Set(customerIds);
  const verdicts: UserBlockVerdict[] = [];
  if (blocked) {
    const recent = await trx
      .selectFrom("conversation")
      .select("customer_id")
      .where("phone_number_id", "=", phoneNumberId)
      .where("customer_id", "in", customerIds)
      .where("last_inbound_at", ">=", input.recentSince)
      .execute();
    allowed = new Set(recent.map((r) => r.customer_id));
    for (const id of customerIds) if (!allowed.has(id)) verdicts.push({ customerId: id, ok: false, why: "not_recent" });
    if (allowed.size > 0) {
      await trx
        .insertInto("user_block")
        .values([...allowed].map((customerId) => ({ phone_number_id: phoneNumberId, customer_id: customerId, business_id: businessId, blocked: false, changed_at: NEVER })))
        .onConflict((oc) => oc.columns(["phone_number_id", "customer_id"]).doNothing())
        .execute();
    }
  }
  if (allowed.size === 0) return verdicts;
  const rows = await trx
    .selectFrom("user_block")
    .select(["customer_id", "blocked", "changed_at"])
    .where("phone_number_id", "=", phoneNumberId)
    .where("customer_id", "in", [...allowed])
    .orderBy("customer_id")
    .forUpdate()
    .execute();
  const stored = new Map(rows.map((r) => [r.customer_id, { blocked: r.blocked, at: r.changed_at.getTime() === 0 ? undefined : r.changed_at.getTime() }]));
  let room = Number.POSITIVE_INFINITY;
  if (blocked) {
    // The list's size under the rows' locks; two requests adding at once may pass it by their own sizes at most.
    const { n } = await trx.selectFrom("user_block").select((eb) => eb.fn.countAll<string>().as("n")).where("phone_number_id", "=", phoneNumberId).where("blocked", "=", true).executeTakeFirstOrThrow();
    room = input.max - Number(n);
  }
  const changes: UserBlockChange[] = [];
  for (const customerId of allowed) {
    const state = stored.get(customerId) ?? { blocked: false, at: undefined };
    const change = userBlockChange({ phoneNumberId, customerId, businessId }, state, blocked, now);
    if (change && blocked && room-- <= 0) {
      verdicts.push({ customerId, ok: false, why: "list_full" });
      continue;
    }
    if (change) changes.push(change);
    verdicts.push({ customerId, ok: true, change });
  }
  if (changes.length > 0) {
    await sql`
      UPDATE user_block u SET blocked = c.blocked, changed_at = c.at, business_id = ${businessId}
      FROM unnest(${changes.map((c) => c.customerId)}::text[], ${changes.map((c) => c.blocked)}::boolean[], ${changes.map((c) => new Date(c.at).toISOString())}::timestamptz[]) AS c(customer_id, blocked, at)
      WHERE u.phone_number_id = ${phoneNumberId} AND u.customer_id = c.customer_id`.execute(trx);
    await enqueue(trx, changes.map((c) => userBlockChangedEvent(randomUUID(), c)));
  }
  return verdicts;
}

/** The customers a number blocks, most recently blocked first, after `after`. */
export async function listBlockedUsers(db: Kysely<MessagingDatabase>, phoneNumberId: string, take: number, after: UserBlockCursor | undefined): Promise<BlockedUserRow[]> {
  let q = db
    .selectFrom("user_block as b")
    .innerJoin("customer as c", "c.id", "b.customer_id")
    .select(["b.customer_id", "b.changed_at", "c.e164"])
    .where("b.phone_number_id", "=", phoneNumberId)
    .where("b.blocked", "=", true)
    .where("c.e164", "is not", null);
  if (after) {
    const t = new Date(after.t);
    q = q.where((eb) => eb.or([eb("b.changed_at", "<", t), eb.and([eb("b.changed_at", "=", t), eb("b.customer_id", "<", after.c)])]));
  }
  const rows = await q.orderBy("b.changed_at", "desc").orderBy("b.customer_id", "desc").limit(take).execute();
  return rows.map((r) => ({ customerId: r.customer_id, e164: r.e164!, blockedAt: r.changed_at }));
}

/** Every pair's state (unblocked ones for their time): the block cache's load at start. */
export async function allUserBlocks(db: Kysely<MessagingDatabase>): Promise<UserBlockChange[]> {
  const rows = await db.selectFrom("user_block").selectAll().where("changed_at", ">", NEVER).execute();
  return rows.map((r) => ({ phoneNumberId: r.phone_number_id, customerId: r.customer_id, businessId: r.business_id, blocked: r.blocked, at: r.changed_at.getTime() }));
}

/** The user-block use case's store port (domain/user-block-service.ts). */
export function createUserBlockStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue) {
  return {
    setUserBlocks: (input: Parameters<typeof setUserBlocks>[2]) => db.transaction().execute((trx) => setUserBlocks(trx, enqueue, input)),
    listBlockedUsers: (phoneNumberId: string, take: number, after: UserBlockCursor | undefined) => listBlockedUsers(db, phoneNumberId, take, after),
    allUserBlocks: () => allUserBlocks(db),
  };
}
