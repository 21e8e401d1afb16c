import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { InvalidInput, NotFound, PolicyRefused } from "@kontor/service-kit/errors";
import type { MoneyValue } from "@kontor/service-kit/money";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { PaymentsDatabase } from "../store/database.js";
import type { PaymentIntentRow, PaymentRefundRow } from "../store/payments.table.js";
import {
  claimIdempotencyKey,
  findExpiredIntents,
  findIdempotencyRecord,
  setIdempotencyResult,
  findPaymentIntent,
  findPaymentIntentByOrder,
  findBankAccount,
  insertBankOperation,
  findPaymentIntents,
  findIdempotencyRecords,
  claimIdempotencyKeys,
  settlePaymentIntents,
  findPlan,
  findPlans,
  findRefund,
  insertPaymentIntent,
  insertRefund,
  updatePaymentIntent,
  upsertPlan,
} from "../store/payments-store.js";
import { paymentFailedEvent, paymentRefundedEvent, paymentSucceededEvent } from "../events/outbox.js";
import type { OrderToPay, PaymentIntent, Refund } from "./payment.js";
import { fingerprint, idempotencyKeyReused, idempotent } from "./idempotency.js";
import { LedgerBatch, type TransferSpec } from "./ledger-engine.js";
import { SYSTEM_ACCOUNTS, type LedgerService } from "./ledger-service.js";
import { DEFER, type BatchGroup, type BatchJob, type ClaimResult } from "./transfer-batcher.js";
import type { PinService } from "./pin-service.js";

type Db = Kysely<PaymentsDatabase>;




export interface PaymentPorts {
  db: Db;
  enqueue(trx: Db, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  ledger: LedgerService;
  pins: PinService;
  /** Plan name → fee in basis points. */
  plans: Record<string, number>;
  defaultPlan: string;
  intentTtlMs: number;
  /** The bank rail refunds to a bank go out on, and how one is handed to it after its commit. */
  railName: string;
  submitBankOperation(id: string): Promise<void>;
}

function intentRowToIntent(row: PaymentIntentRow): PaymentIntent {
  return {
    id: row.id,
    orderId: row.order_id,
    businessId: row.business_id,
    customerId: row.customer_id,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    state: row.state,
    feeBps: row.fee_bps,
    feeMinor: BigInt(row.fee_minor),
    refundedMinor: BigInt(row.refunded_minor),
    failureReason: row.failure_reason,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function refundRowToRefund(row: PaymentRefundRow): Refund {
  return {
    id: row.id,
    paymentId: row.payment_id,
    amountMinor: BigInt(row.amount_minor),
    feeReturnedMinor: BigInt(row.fee_returned_minor),
    currency: row.currency,
    reason: row.reason,
    bankOperationId: row.bank_operation_id ?? "",
    createdAt: row.created_at,
  };
}

/** The platform's fee: basis points of the amount, rounded down (the business never pays more than its rate). */
export function feeFor(amountMinor: bigint, bps: number): bigint {
  return (amountMinor * BigInt(bps)) / 10_000n;
}

/**
 * The fee a refund returns: the fee's share of everything refunded so far,
 * rounded down, less what earlier refunds returned. The shares telescope:
 * a full refund returns exactly the whole fee, partial ones never more
 * than their proportion.
 */
export function feeReturned(captured: bigint, fee: bigint, refundedBefore: bigint, refund: bigint): bigint {
  return (fee * (refundedBefore + refund)) / captured - (fee * refundedBefore) / captured;
}

const wallet = (customerId: string) => ({ kind: "customer", id: customerId }) as const;

/** One ConfirmPaymentIntent in the group commit; claimed and finished with the others of its batch. */
interface ConfirmJob extends BatchJob<unknown> {
  caller: string;
  idempotencyKey: string;
  print: string;
  paymentId: string;
  intent: PaymentIntent;
  customerId: string;
  businessId: string;
  feesId: string;
  /** Set by claim, from the business's plan. */
  feeBps: number;
  fee: bigint;
  /** Set by claim: the payment an earlier call with this key confirmed. */
  replayOf: string | undefined;
  /** Set by claim or decide: why the intent fails (it is then written failed, with payment.failed). */
  failure: string;
}

/** Business payments: intents for orders, confirmed with the PIN, the fee split at capture, refunds. */
export function createPaymentService(ports: PaymentPorts) {
  const feeBpsOf = (plan: string) => ports.plans[plan] ?? ports.plans[ports.defaultPlan] ?? 0;
  async function planOf(businessId: string): Promise<{ plan: string; feeBps: number }> {
    const plan = (await findPlan(ports.db, businessId)) ?? ports.defaultPlan;
    return { plan, feeBps: feeBpsOf(plan) };
  }

  async function fail(trx: Db, id: string, reason: string): Promise<PaymentIntentRow> {
    const row = await updatePaymentIntent(trx, id, { state: "failed", failure_reason: reason });
    await ports.enqueue(trx, [paymentFailedEvent(intentRowToIntent(row), ports.now())]);
    return row;
  }

  /**
   * Confirmations of one batch claim and finish together: their
   * idempotency records read in one statement, their intents locked in one
   * (id order), their keys claimed in one insert, and their outcomes
   * written in one update; so a thousand customers paying one business cost
   * a handful of statements per commit, not five per payment.
   */
  const CONFIRM = "ConfirmPaymentIntent";
  const confirmGroup: BatchGroup = {
    async claim(trx, all) {
      const jobs = all as ConfirmJob[];
      const pairKey = (j: ConfirmJob) => `${j.caller}\u0000${j.idempotencyKey}`;
      const records = async (js: ConfirmJob[]) => new Map((await findIdempotencyRecords(trx, CONFIRM, js.map((j) => ({ caller: j.caller, key: j.idempotencyKey })))).map((rec) => [`${rec.caller}\u0000${rec.key}`, rec]));
      for (const j of jobs) {
        // A batch that failed runs its jobs again one by one: start from nothing.
        j.replayOf = undefined;
        j.failure = "";
      }
      const before = await records(jobs);
      const rows = new Map((await findPaymentIntents(trx, jobs.filter((j) => !before.has(pairKey(j))).map((j) => j.paymentId), true)).map((row) => [row.id, row]));
      // A concurrent call with the same key may have confirmed the intent while this batch waited for its row.
      const raced = jobs.filter((j) => !before.has(pairKey(j)) && rows.get(j.paymentId)?.state !== "requires_confirmation");
      const after = raced.length > 0 ? await records(raced) : new Map<string, never>();
      const out: ClaimResult[] = [];
      const keys = new Set<string>();
      const intents = new Set<string>();
      const claiming: ConfirmJob[] = [];
      const now = ports.now();
      for (const j of jobs) {
        const k = pairKey(j);
        // The same key or intent twice in one batch: the second goes after this commit and sees the first's result.
        if (keys.has(k) || intents.has(j.paymentId)) {
          out.push(DEFER);
          continue;
        }
        keys.add(k);
        const record = before.get(k) ?? after.get(k);
        if (record) {
          if (record.fingerprint !== j.print) out.push(idempotencyKeyReused());
          else {
            j.replayOf = record.result_id;
            out.push(undefined);
          }
          continue;
        }
        const row = rows.get(j.paymentId);
        if (!row) {
          out.push(new NotFound("payment"));
          continue;
        }
        if (row.state !== "requires_confirmation") {
          out.push(new PolicyRefused("PAYMENT_NOT_CONFIRMABLE", `the payment is ${row.state}`, 0, "payment_id"));
          continue;
        }
        intents.add(j.paymentId);
        if (row.expires_at <= now) j.failure = "EXPIRED";
        claiming.push(j);
        out.push(undefined);
      }
      // The fee is the plan's at capture, read in the batch's transaction.
      const plans = await findPlans(trx, claiming.map((j) => j.intent.businessId));
      for (const j of claiming) {
        j.feeBps = feeBpsOf(plans.get(j.intent.businessId) ?? ports.defaultPlan);
        j.fee = feeFor(j.intent.amountMinor, j.feeBps);
      }
      // Keys another replica took since they were read: those jobs go again and find its record.
      const taken = new Set(
        (await claimIdempotencyKeys(
          trx,
          claiming.map((j) => ({ caller: j.caller, scope: CONFIRM, key: j.idempotencyKey, fingerprint: j.print, result_id: j.intent.id })),
        )).map((t) => `${t.caller}\u0000${t.key}`),
      );
      return jobs.map((j, i) => (out[i] === undefined && j.replayOf === undefined && !taken.has(pairKey(j)) ? DEFER : out[i]));
    },

    async finish(trx, all) {
      const jobs = all as ConfirmJob[];
      const replays = new Map((await findPaymentIntents(trx, jobs.flatMap((j) => (j.replayOf !== undefined ? [j.replayOf] : [])))).map((row) => [row.id, row]));
      const settled = new Map(
        (await settlePaymentIntents(
          trx,
          jobs.filter((j) => j.replayOf === undefined).map((j) => ({ id: j.intent.id, state: j.failure ? ("failed" as const) : ("succeeded" as const), failure_reason: j.failure, fee_bps: j.feeBps, fee_minor: j.fee.toString() })),
        )).map((row) => [row.id, row]),
      );
      const at = ports.now();
      return jobs.map((j) => {
        if (j.replayOf !== undefined) return { value: { payment: intentRowToIntent(replays.get(j.replayOf)!), replayed: true }, events: [] };
        const p = intentRowToIntent(settled.get(j.intent.id)!);
        return { value: { payment: p, replayed: false }, events: [j.failure ? paymentFailedEvent(p, at) : paymentSucceededEvent(p, at)] };
      });
    },
  };

  return {
    planOf,

    async setPlan(businessId: string, plan: string): Promise<{ plan: string; feeBps: number }> {
      const bps = ports.plans[plan];
      if (bps === undefined) throw new InvalidInput("plan", `must be one of ${Object.keys(ports.plans).join(", ")}`);
      await upsertPlan(ports.db, businessId, plan);
      return { plan, feeBps: bps };
    },

    /**
     * The order's payment intent, made once per (business, order): whether
     * the order.placed consumer or CreatePaymentIntent gets there first, the
     * other finds it. The same order asked with another customer or amount
     * is refused (ORDER_ALREADY_HAS_PAYMENT).
     */
    async createForOrder(trx: Db, r: OrderToPay): Promise<{ row: PaymentIntentRow; created: boolean }> {
      const row = await insertPaymentIntent(trx, {
        id: randomUUID(),
        order_id: r.orderId,
        business_id: r.businessId,
        customer_id: r.customerId,
        amount_minor: r.amount.amountMinor.toString(),
        currency: r.amount.currency,
        expires_at: new Date(ports.now().getTime() + ports.intentTtlMs),
      });
      if (row) return { row, created: true };
      const existing = (await findPaymentIntentByOrder(trx, r.businessId, r.orderId))!;
      if (existing.customer_id !== r.customerId || BigInt(existing.amount_minor) !== r.amount.amountMinor || existing.currency !== r.amount.currency) {
        throw new PolicyRefused("ORDER_ALREADY_HAS_PAYMENT", "this order already has a payment intent for another customer or amount", 0, "order_id");
      }
      return { row: existing, created: false };
    },

    async create(caller: string, r: OrderToPay & { idempotencyKey: string }): Promise<{ payment: PaymentIntent; replayed: boolean }> {
      const { value, replayed } = await ports.db.transaction().execute((trx) =>
        idempotent(
          trx,
          { caller, scope: "CreatePaymentIntent", key: r.idempotencyKey, body: { ...r, idempotencyKey: undefined } },
          async () => {
            const { row } = await this.createForOrder(trx, r);
            return { id: row.id, value: row };
          },
          async (id) => (await findPaymentIntent(trx, id))!,
        ),
      );
      return { payment: intentRowToIntent(value), replayed };
    },

    async get(id: string): Promise<PaymentIntent> {
      const row = await findPaymentIntent(ports.db, id);
      if (!row) throw new NotFound("payment");
      return intentRowToIntent(row);
    },

    async getByOrder(businessId: string, orderId: string): Promise<PaymentIntent> {
      const row = await findPaymentIntentByOrder(ports.db, businessId, orderId);
      if (!row) throw new NotFound("payment");
      return intentRowToIntent(row);
    },

    /**
     * The customer pays with the PIN. The capture runs in the group commit
     * (one lock per account per batch, so a business paid by many customers
     * at once, and the platform's fee account, do not serialize payments):
     * in one transaction the intent row is locked, the amount moves from the
     * customer's wallet to the business's and the fee from the business's to
     * the platform's revenue (linked: both or neither), and the intent and
     * payment.succeeded commit with them. A wallet that cannot cover it ends
     * the intent failed (payment.failed), as does an expired intent.
     */
    async confirm(caller: string, r: { idempotencyKey: string; paymentId: string; pin: string }, customerId: string, known?: PaymentIntent): Promise<{ payment: PaymentIntent; replayed: boolean }> {
      const intent = known ?? (await this.get(r.paymentId));
      await ports.pins.verify(customerId, r.pin);
      // Ids by cache (a customer without a wallet gets an empty one and INSUFFICIENT_FUNDS); the plan is read with the batch.
      const [businessId, feesId, customerWalletId] = await Promise.all([
        ports.ledger.accountId({ kind: "business", id: intent.businessId }, "business_wallet", intent.currency),
        ports.ledger.accountId(SYSTEM_ACCOUNTS.fees.owner, SYSTEM_ACCOUNTS.fees.kind, intent.currency),
        ports.ledger.accountId(wallet(intent.customerId), "customer_wallet", intent.currency),
      ]);
      const customer = { id: customerWalletId };
      const job: ConfirmJob = {
        group: confirmGroup,
        caller,
        idempotencyKey: r.idempotencyKey,
        print: fingerprint({ paymentId: r.paymentId }),
        paymentId: r.paymentId,
        intent,
        customerId: customer.id,
        businessId,
        feesId,
        feeBps: 0,
        fee: 0n,
        replayOf: undefined,
        failure: "",
        accounts: [customer.id, businessId, feesId],
        keys: [
          { caller: "payments", key: `capture:${intent.id}` },
          { caller: "payments", key: `fee:${intent.id}` },
        ],
        decide(batch) {
          // Never throws once the key is claimed: a refusal becomes the intent's failure.
          if (job.replayOf !== undefined || job.failure) return;
          const { fee, feeBps } = job;
          const money = (m: bigint) => ({ amountMinor: m, currency: intent.currency });
          const specs: TransferSpec[] = [
            { caller: "payments", idempotencyKey: `capture:${intent.id}`, fromAccountId: customer.id, toAccountId: businessId, amount: money(intent.amountMinor), note: `order ${intent.orderId}`, reason: "capture", reference: intent.id },
          ];
          if (fee > 0n) specs.push({ caller: "payments", idempotencyKey: `fee:${intent.id}`, fromAccountId: businessId, toAccountId: feesId, amount: money(fee), note: `fee ${feeBps} bps`, reason: "fee", reference: intent.id });
          const refused = batch.applyLinked(specs).find((o) => !o.ok);
          if (refused && !refused.ok) job.failure = refused.error.reason;
        },
        finish() {
          throw new Error("confirmations finish as a group");
        },
      };
      return ports.ledger.batcher.run(job) as Promise<{ payment: PaymentIntent; replayed: boolean }>;
    },

    /** Returns part or all of a captured payment; the fee's share comes back from the platform's revenue. */
    async refund(caller: string, r: { idempotencyKey: string; paymentId: string; amount: MoneyValue; reason: string; bankAccountId?: string }): Promise<{ refund: Refund; payment: PaymentIntent; replayed: boolean }> {
      const intent = await this.get(r.paymentId);
      if (r.amount.currency !== intent.currency) throw new InvalidInput("amount.currency", `must be ${intent.currency}, the payment's currency`, "CURRENCY_MISMATCH");
      const toBank = r.bankAccountId ? await findBankAccount(ports.db, r.bankAccountId) : undefined;
      if (r.bankAccountId && (!toBank || toBank.owner_kind !== "customer" || toBank.owner_id !== intent.customerId || toBank.currency !== intent.currency)) {
        throw Object.assign(new NotFound("the customer's bank account in the payment's currency"), { field: "bank_account_id" });
      }
      const business = await ports.ledger.ensureAccount({ kind: "business", id: intent.businessId }, "business_wallet", intent.currency);
      const fees = await ports.ledger.ensureAccount(SYSTEM_ACCOUNTS.fees.owner, SYSTEM_ACCOUNTS.fees.kind, intent.currency);
      // To the wallet at once, or to the refunds-in-flight account until the customer's bank settles it.
      const customer = toBank
        ? await ports.ledger.ensureAccount(SYSTEM_ACCOUNTS.refunds.owner, SYSTEM_ACCOUNTS.refunds.kind, intent.currency)
        : await ports.ledger.ensureAccount(wallet(intent.customerId), "customer_wallet", intent.currency);
      const { value, replayed } = await ports.db.transaction().execute((trx) =>
        idempotent(
          trx,
          { caller, scope: "RefundPayment", key: r.idempotencyKey, body: { ...r, idempotencyKey: undefined } },
          async () => {
            const row = (await findPaymentIntent(trx, r.paymentId, true))!;
            if (row.state !== "succeeded") throw new PolicyRefused("PAYMENT_NOT_CAPTURED", `the payment is ${row.state}`, 0, "payment_id");
            const captured = BigInt(row.amount_minor);
            const before = BigInt(row.refunded_minor);
            const amount = r.amount.amountMinor;
            if (before + amount > captured) {
              const err = new PolicyRefused("REFUND_EXCEEDS_CAPTURED", "refunds may not exceed what was captured", 0, "amount.amount_minor");
              err.metadata = { refundable_minor: (captured - before).toString() };
              throw err;
            }
            const fee = BigInt(row.fee_minor);
            const back = feeReturned(captured, fee, before, amount);
            const id = randomUUID();
            const money = (m: bigint) => ({ amountMinor: m, currency: row.currency });
            // All three accounts are locked in one statement, as the group commit locks them: never one, then another.
            const ledger = await LedgerBatch.open(trx, [business.id, customer.id, fees.id], [
              { caller: "payments", key: `refund:${id}` },
              { caller: "payments", key: `fee_refund:${id}` },
            ]);
            const specs: TransferSpec[] = [];
            if (amount - back > 0n) specs.push({ caller: "payments", idempotencyKey: `refund:${id}`, fromAccountId: business.id, toAccountId: customer.id, amount: money(amount - back), note: r.reason, reason: "refund", reference: row.id });
            if (back > 0n) specs.push({ caller: "payments", idempotencyKey: `fee_refund:${id}`, fromAccountId: fees.id, toAccountId: customer.id, amount: money(back), note: r.reason, reason: "fee_refund", reference: row.id });
            const refused = ledger.applyLinked(specs).find((o) => !o.ok);
            if (refused && !refused.ok) throw refused.error;
            await ledger.flush(trx);
            let operationId: string | null = null;
            if (toBank) {
              operationId = randomUUID();
              await insertBankOperation(trx, {
                id: operationId,
                kind: "refund",
                account_id: customer.id,
                bank_account_id: toBank.id,
                amount_minor: amount.toString(),
                currency: row.currency,
                rail: ports.railName,
                transfer_id: null,
                actor: caller,
                submitted_at: null,
                // Submitted right after this commit; the sweep takes it over only after a crash.
                submit_claimed_until: new Date(ports.now().getTime() + 60_000),
              });
            }
            const refund = await insertRefund(trx, { id, payment_id: row.id, amount_minor: amount.toString(), fee_returned_minor: back.toString(), currency: row.currency, reason: r.reason, actor: caller, bank_operation_id: operationId });
            const updated = await updatePaymentIntent(trx, row.id, { refunded_minor: (before + amount).toString() });
            await ports.enqueue(trx, [paymentRefundedEvent(intentRowToIntent(updated), refundRowToRefund(refund))]);
            return { id, value: { refund, payment: updated } };
          },
          async (id) => {
            const refund = (await findRefund(trx, id))!;
            return { refund, payment: (await findPaymentIntent(trx, refund.payment_id))! };
          },
        ),
      );
      if (!replayed && value.refund.bank_operation_id) await ports.submitBankOperation(value.refund.bank_operation_id);
      return { refund: refundRowToRefund(value.refund), payment: intentRowToIntent(value.payment), replayed };
    },

    /** Fails intents nobody confirmed in time (payment.failed, EXPIRED); returns how many. */
    async expireIntents(limit = 500): Promise<number> {
      const ids = await findExpiredIntents(ports.db, ports.now(), limit);
      let n = 0;
      for (const id of ids) {
        await ports.db.transaction().execute(async (trx) => {
          const row = await findPaymentIntent(trx, id, true);
          if (row?.state === "requires_confirmation" && row.expires_at <= ports.now()) {
            await fail(trx, id, "EXPIRED");
            n += 1;
          }
        });
      }
      return n;
    },
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

export type { OrderToPay, PaymentIntent, Refund };
