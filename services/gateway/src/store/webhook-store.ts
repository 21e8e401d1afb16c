import { sql, type Kysely } from "kysely";
import type { GatewayDatabase } from "./tables.js";

type Db = Kysely<GatewayDatabase>;

export interface Subscription {
  wabaId: string;
  partnerId: string;
  overrideCallbackUri: string | null;
}

export async function upsertSubscription(db: Db, s: { wabaId: string; partnerId: string; overrideCallbackUri: string | null; overrideVerifyToken: string | null }): Promise<void> {
  await db
    .insertInto("webhook_subscription")
    .values({ waba_id: s.wabaId, partner_id: s.partnerId, override_callback_uri: s.overrideCallbackUri, override_verify_token: s.overrideVerifyToken })
    .onConflict((oc) => oc.column("waba_id").doUpdateSet({ partner_id: s.partnerId, override_callback_uri: s.overrideCallbackUri, override_verify_token: s.overrideVerifyToken, updated_at: new Date() }))
    .execute();
}

export async function deleteSubscription(db: Db, wabaId: string): Promise<boolean> {
  const r = await db.deleteFrom("webhook_subscription").where("waba_id", "=", wabaId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function getSubscription(db: Db, wabaId: string): Promise<Subscription | undefined> {
  const r = await db.selectFrom("webhook_subscription").select(["waba_id", "partner_id", "override_callback_uri"]).where("waba_id", "=", wabaId).executeTakeFirst();
  return r ? { wabaId: r.waba_id, partnerId: r.partner_id, overrideCallbackUri: r.override_callback_uri } : undefined;
}

/** Where a WABA's notifications go now (its override, else its partner app's callback) and the key they are signed with. */
export async function deliveryTarget(db: Db, wabaId: string): Promise<{ url: string; appSecret: string } | undefined> {
  const r = await db
    .selectFrom("webhook_subscription as s")
    .innerJoin("partner as p", "p.id", "s.partner_id")
    .select(["s.override_callback_uri", "p.callback_url", "p.app_secret"])
    .where("s.waba_id", "=", wabaId)
    .executeTakeFirst();
  const url = r?.override_callback_uri ?? r?.callback_url;
  return r && url ? { url, appSecret: r.app_secret } : undefined;
}

/** Queues a notification in the consumer's transaction; the same event for the same WABA is queued once. */
export async function enqueueDelivery(trx: Db, d: { partnerId: string; wabaId: string; eventId: string; orderKey: string; body: string }): Promise<void> {
  await trx
    .insertInto("webhook_delivery")
    .values({ partner_id: d.partnerId, waba_id: d.wabaId, event_id: d.eventId, order_key: d.orderKey, body: d.body, locked_until: null, finished_at: null })
    .onConflict((oc) => oc.columns(["waba_id", "event_id"]).doNothing())
    .execute();
}

export interface ClaimedDelivery {
  id: string;
  wabaId: string;
  eventId: string;
  body: string;
  attempts: number;
  createdAt: Date;
}

/**
 * Leases due deliveries that are the oldest pending one of their WABA and
 * order key (a conversation, a template), so each key's notifications go out
 * one at a time in queue order. Replicas skip each other's rows; a lease that
 * runs out (a replica died mid-POST) makes the row due again.
 */
export async function claimDue(db: Db, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<{ id: string; waba_id: string; event_id: string; body: string; attempts: number; created_at: Date }>`
    UPDATE webhook_delivery SET locked_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
    WHERE id IN (
      SELECT d.id FROM webhook_delivery d
      WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
        AND NOT EXISTS (SELECT 1 FROM webhook_delivery e WHERE e.status = 'pending' AND e.waba_id = d.waba_id AND e.order_key = d.order_key AND e.id < d.id)
      ORDER BY d.id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING id, waba_id, event_id, body, attempts, created_at`.execute(db);
  return rows.map((r) => ({ id: r.id, wabaId: r.waba_id, eventId: r.event_id, body: r.body, attempts: r.attempts, createdAt: r.created_at }));
}

export async function markDelivered(db: Db, id: string): Promise<void> {
  await db.updateTable("webhook_delivery").set({ status: "delivered", locked_until: null, finished_at: new Date(), last_error: "" }).where("id", "=", id).execute();
}

export async function markFailed(db: Db, id: string, error: string, retryAt: Date | undefined): Promise<void> {
  await db
    .updateTable("webhook_delivery")
    .set(retryAt ? { next_attempt_at: retryAt, locked_until: null, last_error: error.slice(0, 500) } : { status: "dead", locked_until: null, finished_at: new Date(), last_error: error.slice(0, 500) })
    .where("id", "=", id)
    .execute();
}

export interface DeadDelivery {
  id: string;
  eventId: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
}

/** The dead-letter list of a WABA, oldest first. */
export async function listDead(db: Db, wabaId: string, limit: number): Promise<DeadDelivery[]> {
  const rows = await db
    .selectFrom("webhook_delivery")
    .select(["id", "event_id", "attempts", "last_error", "created_at"])
    .where("waba_id", "=", wabaId)
    .where("status", "=", "dead")
    .orderBy("id")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ id: r.id, eventId: r.event_id, attempts: r.attempts, lastError: r.last_error, createdAt: r.created_at }));
}

/** Puts a WABA's dead deliveries back in the queue (all, or the ids given); returns how many. */
export async function replayDead(db: Db, wabaId: string, ids: string[] | undefined): Promise<number> {
  let q = db
    .updateTable("webhook_delivery")
    .set({ status: "pending", attempts: 0, next_attempt_at: new Date(), created_at: new Date(), finished_at: null, locked_until: null })
    .where("waba_id", "=", wabaId)
    .where("status", "=", "dead");
  if (ids) q = q.where("id", "in", ids.length ? ids : ["-1"]);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}
