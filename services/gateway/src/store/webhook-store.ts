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

export interface NewDelivery {
  partnerId: string;
  wabaId: string;
  eventId: string;
  orderKey: string;
  body: string;
}

/**
 * Queues notifications in one statement, in the order given (the queue's
 * order); an event already queued for its WABA is skipped, so a redelivered
 * event is queued once.
 */
export async function enqueueDeliveries(trx: Db, ds: readonly NewDelivery[]): Promise<void> {
  if (ds.length === 0) return;
  // The batch as one JSON parameter, not five parameters per row: building, compiling and serializing
  // 2,500 values (and pg's escaping of each body as an array element) was the consumer's largest CPU
  // cost after decoding; JSON.stringify is one native pass.
  const rows = JSON.stringify(ds.map((d) => [d.partnerId, d.wabaId, d.eventId, d.orderKey, d.body]));
  await sql`
    INSERT INTO webhook_delivery (partner_id, waba_id, event_id, order_key, body)
    SELECT r->>0, r->>1, r->>2, r->>3, r->>4 FROM json_array_elements(${rows}::json) WITH ORDINALITY AS t(r, o)
    ORDER BY o
    ON CONFLICT (waba_id, event_id, replay_id) DO NOTHING`.execute(trx);
}

export async function enqueueDelivery(trx: Db, d: NewDelivery): Promise<void> {
  await enqueueDeliveries(trx, [d]);
}

export interface ClaimedDelivery {
  id: string;
  partnerId: string;
  wabaId: string;
  /** A replayed copy's own URL; null: the WABA's subscription. */
  callbackUri: string | null;
  eventId: string;
  orderKey: string;
  body: string;
  attempts: number;
  createdAt: Date;
}

/**
 * Leases due deliveries in queue order. A row is leased only when every
 * earlier pending row of its WABA and order key (a conversation, a template)
 * is leased with it: a key's notifications go out in order, several of them
 * in one POST at most, never two POSTs of one key at once. A failed row holds
 * back the rest of its key until its retry. Replicas skip each other's rows;
 * a lease that runs out (a replica died mid-POST) makes the row due again.
 */
export async function claimDue(db: Db, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  // Claims are serialized across replicas (the lock is held to commit, and the UPDATE's snapshot is taken
  // after it): with SKIP LOCKED alone, a replica could lease a key's later row while another leases its head.
  const rows = await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCK})`.execute(trx);
    // The blocked keys are few and the planner guesses far fewer still: a nested loop over them per candidate
    // row cost 15× a hash join (0.76 s against 0.05 s for 20,000 queued rows over 200 keys, 3,000 leased).
    // A lease lost in a crash only makes its rows due again (delivery is at least once): no need to wait for the
    // commit's flush while every other claim waits on the lock.
    await sql`SET LOCAL synchronous_commit = off`.execute(trx);
    await sql`SET LOCAL enable_nestloop = off`.execute(trx);
    const ids = (await dueIds(trx, limit)).rows.map((r) => r.id);
    if (ids.length === 0) return [];
    // The lease by primary key: a nested loop again (without it, a hash join over the whole table).
    await sql`SET LOCAL enable_nestloop = on`.execute(trx);
    return (await leaseRows(trx, ids, leaseMs)).rows;
  });
  // RETURNING gives no order; the queue's is by id (bigserial, as text: compare by length, then text).
  rows.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rows.map((r) => ({ id: r.id, partnerId: r.partner_id, wabaId: r.waba_id, callbackUri: r.callback_uri, eventId: r.event_id, orderKey: r.order_key, body: r.body, attempts: r.attempts, createdAt: r.created_at }));
}

/** An advisory lock key of the gateway's own ("gwclaim" as a number). */
const CLAIM_LOCK = 0x6777636c61696d;

/** Due rows in queue order whose keys have nothing leased or waiting before them, locked for this transaction. */
function dueIds(db: Db, limit: number) {
  return sql<{ id: string }>`
    WITH blocked AS (
      -- Per key, its first pending row that is leased or waiting for a retry: nothing at or after it is due.
      SELECT waba_id, order_key, min(id) AS first_id FROM webhook_delivery
      WHERE status = 'pending' AND (next_attempt_at > now() OR (locked_until IS NOT NULL AND locked_until >= now()))
      GROUP BY waba_id, order_key)
    SELECT d.id FROM webhook_delivery d
    LEFT JOIN blocked b ON b.waba_id = d.waba_id AND b.order_key = d.order_key
    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
      AND (b.first_id IS NULL OR d.id < b.first_id)
    ORDER BY d.id
    LIMIT ${limit}
    FOR UPDATE OF d SKIP LOCKED`.execute(db);
}

function leaseRows(db: Db, ids: string[], leaseMs: number) {
  return sql<{ id: string; partner_id: string; waba_id: string; callback_uri: string | null; event_id: string; order_key: string; body: string; attempts: number; created_at: Date }>`
    UPDATE webhook_delivery SET locked_until = now() + make_interval(secs => ${leaseMs / 1000}), attempts = attempts + 1
    WHERE id = ANY(${ids}::bigint[])
    RETURNING id, partner_id, waba_id, callback_uri, event_id, order_key, body, attempts, created_at`.execute(db);
}

export async function markDelivered(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`UPDATE webhook_delivery SET status = 'delivered', locked_until = NULL, finished_at = now(), last_error = '' WHERE id = ANY(${ids}::bigint[])`.execute(db);
}

/** Schedules the rows' retry at `retryAt`, or dead-letters them (retryAt undefined). */
export async function markFailed(db: Db, ids: readonly string[], error: string, retryAt: Date | undefined): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("webhook_delivery")
    .set(retryAt ? { next_attempt_at: retryAt, locked_until: null, last_error: error.slice(0, 500) } : { status: "dead", locked_until: null, finished_at: new Date(), last_error: error.slice(0, 500) })
    .where("id", "in", ids)
    .execute();
}

/** Gives leased rows back untried (their lease and attempt undone). */
export async function releaseLeases(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("webhook_delivery")
    .set((eb) => ({ locked_until: null, attempts: eb("attempts", "-", 1) }))
    .where("id", "in", ids)
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

/** The key a partner's notifications are signed with (a replayed copy to its own URL). */
export async function partnerAppSecret(db: Db, partnerId: string): Promise<string | undefined> {
  const r = await db.selectFrom("partner").select("app_secret").where("id", "=", partnerId).executeTakeFirst();
  return r?.app_secret;
}

export interface ReplayRange {
  wabaId: string;
  /** Notifications queued at or after this time … */
  since?: Date;
  /** … or from this event's notification on (inclusive). */
  sinceEventId?: string;
  /** … and before this time (default: now). */
  until?: Date;
  /** Another URL for the copies; undefined: the WABA's subscription at delivery time. */
  callbackUri?: string;
  replayId: string;
  /** Most notifications one replay copies. */
  limit: number;
}

/**
 * Queues a copy of every notification of the WABA in the range (as queued,
 * whatever became of it: delivered, dead or still pending), in queue order,
 * under the replay's id: its conversations keep their order among the
 * copies (order key prefixed with the replay id) without waiting behind, or
 * holding up, live traffic. Returns how many were copied, or undefined when
 * `sinceEventId` names no notification of the WABA (swept, or never queued).
 */
export async function replayRange(db: Db, r: ReplayRange): Promise<number | undefined> {
  let fromId: string | undefined;
  if (r.sinceEventId !== undefined) {
    const start = await db
      .selectFrom("webhook_delivery")
      .select("id")
      .where("waba_id", "=", r.wabaId)
      .where("event_id", "=", r.sinceEventId)
      .where("replay_id", "=", "")
      .executeTakeFirst();
    if (!start) return undefined;
    fromId = start.id;
  }
  const result = await sql<{ n: string }>`
    WITH picked AS (
      SELECT partner_id, waba_id, event_id, order_key, body, id FROM webhook_delivery
      WHERE waba_id = ${r.wabaId} AND replay_id = ''
        ${r.since ? sql`AND created_at >= ${r.since}` : sql``}
        ${fromId ? sql`AND id >= ${fromId}` : sql``}
        AND created_at < ${r.until ?? new Date()}
      ORDER BY id
      LIMIT ${r.limit}
    ), copied AS (
      INSERT INTO webhook_delivery (partner_id, waba_id, event_id, order_key, body, replay_id, callback_uri)
      SELECT partner_id, waba_id, event_id, ${`replay:${r.replayId}:`} || order_key, body, ${r.replayId}, ${r.callbackUri ?? null} FROM picked ORDER BY id
      ON CONFLICT (waba_id, event_id, replay_id) DO NOTHING
      RETURNING 1
    )
    SELECT count(*)::text AS n FROM copied`.execute(db);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Deletes finished notifications (delivered or dead) queued before `cutoff`,
 * at most `batch` of them; returns how many. Pending ones are never swept:
 * they leave the queue by delivery or by dead-lettering.
 */
export async function sweepFinished(db: Db, cutoff: Date, batch: number): Promise<number> {
  const r = await sql`
    DELETE FROM webhook_delivery WHERE id IN (
      SELECT id FROM webhook_delivery WHERE status <> 'pending' AND created_at < ${cutoff} LIMIT ${batch})`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * True for exactly one caller per `intervalMs` across replicas: the one whose
 * upsert moved the job's last run time (the row lock orders racing replicas).
 */
export async function claimJob(db: Db, name: string, intervalMs: number): Promise<boolean> {
  const r = await sql`
    INSERT INTO job_run (name, ran_at) VALUES (${name}, now())
    ON CONFLICT (name) DO UPDATE SET ran_at = now()
    WHERE job_run.ran_at <= now() - make_interval(secs => ${intervalMs / 1000})
    RETURNING name`.execute(db);
  return r.rows.length > 0;
}
