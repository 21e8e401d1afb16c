import { sql, type Insertable, type Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import type { PaymentsDatabase } from "./database.js";
import type {
  BankAccountRow,
  BankAccountTable,
  BankOperationRow,
  CollectRequestRow,
  CollectRequestTable,
  NewBankOperationRow,
  PaymentIntentRow,
  PaymentIntentTable,
  PaymentPinRow,
  PaymentRefundRow,
  PaymentRefundTable,
  SettlementScheduleRow,
  SettlementScheduleTable,
} from "./payments.table.js";

type Db = Kysely<PaymentsDatabase>;

// ---- idempotency records

/** True when this (caller, scope, key) was free and is now taken by this transaction. */
export async function claimIdempotencyKey(db: Db, caller: string, scope: string, key: string, fingerprint: string): Promise<boolean> {
  const row = await db
    .insertInto("idempotency_record")
    .values({ caller, scope, key, fingerprint })
    .onConflict((oc) => oc.columns(["caller", "scope", "key"]).doNothing())
    .returning("key")
    .executeTakeFirst();
  return row !== undefined;
}

export async function findIdempotencyRecord(db: Db, caller: string, scope: string, key: string) {
  return db.selectFrom("idempotency_record").selectAll().where("caller", "=", caller).where("scope", "=", scope).where("key", "=", key).executeTakeFirst();
}

export async function setIdempotencyResult(db: Db, caller: string, scope: string, key: string, resultId: string): Promise<void> {
  await db.updateTable("idempotency_record").set({ result_id: resultId }).where("caller", "=", caller).where("scope", "=", scope).where("key", "=", key).execute();
}

/** The records of many (caller, key) pairs of one scope, in one statement. */
export async function findIdempotencyRecords(db: Db, scope: string, pairs: { caller: string; key: string }[]) {
  if (pairs.length === 0) return [];
  return db
    .selectFrom("idempotency_record")
    .selectAll()
    .where("scope", "=", scope)
    .where(sql<boolean>`(caller, key) IN (SELECT * FROM unnest(${pairs.map((p) => p.caller)}::text[], ${pairs.map((p) => p.key)}::text[]))`)
    .execute();
}

/** Claims many keys with their results at once; returns the (caller, key) pairs this transaction took (the others were taken first). */
export async function claimIdempotencyKeys(db: Db, rows: { caller: string; scope: string; key: string; fingerprint: string; result_id: string }[]): Promise<{ caller: string; key: string }[]> {
  if (rows.length === 0) return [];
  return db
    .insertInto("idempotency_record")
    .values(rows)
    .onConflict((oc) => oc.columns(["caller", "scope", "key"]).doNothing())
    .returning(["caller", "key"])
    .execute();
}

// ---- PINs

export async function findPin(db: Db, customerId: string): Promise<PaymentPinRow | undefined> {
  return db.selectFrom("payment_pin").selectAll().where("customer_id", "=", customerId).executeTakeFirst();
}

export async function upsertPin(db: Db, row: { customer_id: string; hash: Buffer; salt: Buffer; cost: number }): Promise<void> {
  await db
    .insertInto("payment_pin")
    .values(row)
    .onConflict((oc) => oc.column("customer_id").doUpdateSet({ hash: row.hash, salt: row.salt, cost: row.cost, failed_attempts: 0, locked_until: null, updated_at: new Date() }))
    .execute();
}

export async function recordPinFailure(db: Db, customerId: string, failed: number, lockedUntil: Date | null): Promise<void> {
  await db.updateTable("payment_pin").set({ failed_attempts: failed, locked_until: lockedUntil, updated_at: new Date() }).where("customer_id", "=", customerId).execute();
}

export async function resetPinFailures(db: Db, customerId: string): Promise<void> {
  await db.updateTable("payment_pin").set({ failed_attempts: 0, updated_at: new Date() }).where("customer_id", "=", customerId).execute();
}

// ---- bank accounts and operations

export async function insertBankAccount(db: Db, row: Insertable<BankAccountTable>): Promise<BankAccountRow | undefined> {
  return db
    .insertInto("bank_account")
    .values(row)
    .onConflict((oc) => oc.columns(["owner_kind", "owner_id", "currency", "number_hmac"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findBankAccount(db: Db, id: string): Promise<BankAccountRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("bank_account").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function findBankAccountByHmac(db: Db, ownerKind: BankAccountRow["owner_kind"], ownerId: string, currency: string, hmac: string): Promise<BankAccountRow | undefined> {
  return db
    .selectFrom("bank_account")
    .selectAll()
    .where("owner_kind", "=", ownerKind)
    .where("owner_id", "=", ownerId)
    .where("currency", "=", currency)
    .where("number_hmac", "=", hmac)
    .executeTakeFirst();
}

export async function listBankAccounts(db: Db, ownerKind: BankAccountRow["owner_kind"], ownerId: string): Promise<BankAccountRow[]> {
  return db.selectFrom("bank_account").selectAll().where("owner_kind", "=", ownerKind).where("owner_id", "=", ownerId).orderBy("created_at").limit(100).execute();
}

export async function insertBankOperation(db: Db, row: NewBankOperationRow): Promise<BankOperationRow> {
  return db.insertInto("bank_operation").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findBankOperation(db: Db, id: string, lock = false): Promise<BankOperationRow | undefined> {
  if (!isUuid(id)) return undefined;
  const q = db.selectFrom("bank_operation").selectAll().where("id", "=", id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export async function updateBankOperation(db: Db, id: string, set: Partial<Pick<BankOperationRow, "state" | "rail_reference" | "transfer_id" | "failure_reason" | "submitted_at">>): Promise<BankOperationRow> {
  return db.updateTable("bank_operation").set({ ...set, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

/**
 * Claims up to `limit` pending operations the bank has not acknowledged (a
 * crash between commit and submit), or has not answered for
 * `askAgainAfterMs` (its callback lost), for `leaseMs`: rows another replica is
 * claiming right now are skipped (SKIP LOCKED) and rows it holds a lease on
 * are left to it, so replicas submit disjoint operations in parallel.
 */
export async function claimUnsubmittedOperations(db: Db, now: Date, leaseMs: number, limit: number, askAgainAfterMs: number): Promise<BankOperationRow[]> {
  const result = await sql<BankOperationRow>`UPDATE bank_operation SET submit_claimed_until = ${new Date(now.getTime() + leaseMs)}
    WHERE id IN (
      SELECT id FROM bank_operation
      WHERE state = 'pending' AND (submitted_at IS NULL OR submitted_at <= ${new Date(now.getTime() - askAgainAfterMs)})
        AND (submit_claimed_until IS NULL OR submit_claimed_until <= ${now})
      ORDER BY created_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(db);
  return result.rows;
}

// ---- collect requests

/**
 * Marks pending requests past their expiry as expired, up to `limit`, and
 * returns them. Rows another replica's sweep holds are skipped, and only a
 * still-pending row changes, so each expires once however many replicas sweep.
 */
export async function expireCollectRequests(db: Db, now: Date, limit: number): Promise<CollectRequestRow[]> {
  const result = await sql<CollectRequestRow>`UPDATE collect_request SET state = 'expired', updated_at = now()
    WHERE id IN (
      SELECT id FROM collect_request WHERE state = 'pending' AND expires_at <= ${now}
      ORDER BY expires_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    AND state = 'pending'
    RETURNING *`.execute(db);
  return result.rows;
}

// ---- settlement schedules

export async function upsertSettlementSchedule(db: Db, row: Insertable<SettlementScheduleTable>): Promise<SettlementScheduleRow> {
  return db
    .insertInto("settlement_schedule")
    .values(row)
    .onConflict((oc) =>
      oc.column("business_id").doUpdateSet({ bank_account_id: row.bank_account_id, currency: row.currency, minimum_minor: row.minimum_minor, enabled: row.enabled, next_run_at: row.next_run_at, updated_at: new Date() }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Claims the schedules that are due, up to `limit`, by moving each one's
 * next run on: a replica's claim commits before it pays out, rows another
 * replica is claiming are skipped, so each run is taken by one replica.
 */
export async function claimDueSettlements(db: Db, now: Date, intervalMs: number, limit: number): Promise<SettlementScheduleRow[]> {
  const result = await sql<SettlementScheduleRow>`UPDATE settlement_schedule SET next_run_at = ${new Date(now.getTime() + intervalMs)}
    WHERE business_id IN (
      SELECT business_id FROM settlement_schedule WHERE enabled AND next_run_at <= ${now}
      ORDER BY next_run_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
    AND next_run_at <= ${now}
    RETURNING *`.execute(db);
  return result.rows;
}

// ---- payment numbers

export async function upsertPaymentNumber(db: Db, number: string, customerId: string): Promise<void> {
  await db
    .insertInto("payment_number")
    .values({ number, customer_id: customerId })
    .onConflict((oc) => oc.column("number").doUpdateSet({ customer_id: customerId, updated_at: new Date() }))
    .execute();
}

export async function findPaymentNumber(db: Db, number: string): Promise<string | undefined> {
  return (await db.selectFrom("payment_number").select("customer_id").where("number", "=", number).executeTakeFirst())?.customer_id;
}

export async function insertCollectRequest(db: Db, row: Insertable<CollectRequestTable>): Promise<CollectRequestRow> {
  return db.insertInto("collect_request").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findCollectRequest(db: Db, id: string, lock = false): Promise<CollectRequestRow | undefined> {
  if (!isUuid(id)) return undefined;
  const q = db.selectFrom("collect_request").selectAll().where("id", "=", id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

export async function updateCollectRequest(db: Db, id: string, set: Partial<Pick<CollectRequestRow, "state" | "transfer_id">>): Promise<CollectRequestRow> {
  return db.updateTable("collect_request").set({ ...set, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

// ---- plans, payment intents and refunds

export async function findPlan(db: Db, businessId: string): Promise<string | undefined> {
  return (await db.selectFrom("business_plan").select("plan").where("business_id", "=", businessId).executeTakeFirst())?.plan;
}

/** The plans of many businesses at once (a business without one is missing from the map). */
export async function findPlans(db: Db, businessIds: string[]): Promise<Map<string, string>> {
  if (businessIds.length === 0) return new Map();
  const rows = await db.selectFrom("business_plan").select(["business_id", "plan"]).where("business_id", "in", [...new Set(businessIds)]).execute();
  return new Map(rows.map((r) => [r.business_id, r.plan]));
}

export async function upsertPlan(db: Db, businessId: string, plan: string): Promise<void> {
  await db
    .insertInto("business_plan")
    .values({ business_id: businessId, plan })
    .onConflict((oc) => oc.column("business_id").doUpdateSet({ plan, updated_at: new Date() }))
    .execute();
}

export async function insertPaymentIntent(db: Db, row: Insertable<PaymentIntentTable>): Promise<PaymentIntentRow | undefined> {
  return db
    .insertInto("payment_intent")
    .values(row)
    .onConflict((oc) => oc.columns(["business_id", "order_id"]).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findPaymentIntent(db: Db, id: string, lock = false): Promise<PaymentIntentRow | undefined> {
  if (!isUuid(id)) return undefined;
  const q = db.selectFrom("payment_intent").selectAll().where("id", "=", id);
  return (lock ? q.forUpdate() : q).executeTakeFirst();
}

/** Many intents, locked in id order (one statement, so two batches never wait on each other in a circle) when `lock`. */
export async function findPaymentIntents(db: Db, ids: string[], lock = false): Promise<PaymentIntentRow[]> {
  const valid = [...new Set(ids.filter(isUuid))];
  if (valid.length === 0) return [];
  const q = db.selectFrom("payment_intent").selectAll().where("id", "in", valid).orderBy("id");
  return (lock ? q.forUpdate() : q).execute();
}

/** The outcome of many confirmations in one statement. */
export async function settlePaymentIntents(
  db: Db,
  rows: { id: string; state: "succeeded" | "failed"; failure_reason: string; fee_bps: number; fee_minor: string }[],
): Promise<PaymentIntentRow[]> {
  if (rows.length === 0) return [];
  const values = sql.join(rows.map((r) => sql`(${r.id}::uuid, ${r.state}::text, ${r.failure_reason}::text, ${r.fee_bps}::int, ${r.fee_minor}::bigint)`));
  const result = await sql<PaymentIntentRow>`UPDATE payment_intent AS p
    SET state = v.state, failure_reason = v.failure_reason, fee_bps = CASE WHEN v.state = 'succeeded' THEN v.fee_bps ELSE p.fee_bps END,
      fee_minor = CASE WHEN v.state = 'succeeded' THEN v.fee_minor ELSE p.fee_minor END, updated_at = now()
    FROM (VALUES ${values}) AS v(id, state, failure_reason, fee_bps, fee_minor) WHERE p.id = v.id RETURNING p.*`.execute(db);
  return result.rows;
}

export async function findPaymentIntentByOrder(db: Db, businessId: string, orderId: string): Promise<PaymentIntentRow | undefined> {
  return db.selectFrom("payment_intent").selectAll().where("business_id", "=", businessId).where("order_id", "=", orderId).executeTakeFirst();
}

export async function updatePaymentIntent(
  db: Db,
  id: string,
  set: Partial<Pick<PaymentIntentRow, "state" | "fee_bps" | "fee_minor" | "refunded_minor" | "failure_reason">>,
): Promise<PaymentIntentRow> {
  return db.updateTable("payment_intent").set({ ...set, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirstOrThrow();
}

export async function findExpiredIntents(db: Db, now: Date, limit: number): Promise<string[]> {
  const rows = await db.selectFrom("payment_intent").select("id").where("state", "=", "requires_confirmation").where("expires_at", "<=", now).limit(limit).execute();
  return rows.map((r) => r.id);
}

export async function insertRefund(db: Db, row: Insertable<PaymentRefundTable>): Promise<PaymentRefundRow> {
  return db.insertInto("payment_refund").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findRefund(db: Db, id: string): Promise<PaymentRefundRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom("payment_refund").selectAll().where("id", "=", id).executeTakeFirst();
}
