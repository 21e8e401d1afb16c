import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";
import { KontorError } from "@kontor/service-kit/errors";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { createSandboxBank } from "../src/domain/bank-rail.js";
import { validateBankNumber } from "../src/domain/bank.js";
import type { LedgerAccount } from "../src/domain/ledger-account.js";
import { clearingOwner } from "../src/domain/ledger-service.js";
import { ibanOf, TEST_PIN, testEnv } from "./factories.js";

/**
 * A seeded simulation in the spirit of TigerBeetle's VOPR: concurrent
 * transfers, two-phase transfers, retries, payments with refunds and
 * payouts through a sandbox bank that fails a share of orders and delivers
 * every callback twice, across 100 accounts in two currencies. Afterwards
 * the ledger's invariants must hold. The seed is printed; PAYMENTS_SIM_SEED
 * replays the same operations (their interleaving is the machine's).
 */
const SEED = Number(process.env.PAYMENTS_SIM_SEED ?? Math.floor(Math.random() * 2 ** 31));
const OPS = Number(process.env.PAYMENTS_SIM_OPS ?? 500);
const LANES = 16;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let env: TestEnv;
let app: PaymentsApp;

beforeAll(async () => {
  console.log(`ledger simulation seed ${SEED} (PAYMENTS_SIM_SEED=${SEED} replays it)`);
  env = await createTestEnv();
  const rail = createSandboxBank({ secret: "simulation-secret-0123456789", latencyMs: 0, failureRate: 0.3, seed: String(SEED), duplicateCallbacks: true });
  app = await createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: "simulation-secret-0123456789", DB_POOL_MAX: "8" })), { rail });
  await app.start();
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("ledger simulation", () => {
  it("when many transfers, reservations, payments, refunds and payouts race with bank failures and retries, then money is conserved and the journal replays to the balances", async () => {
    const random = rng(SEED);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
    const { ledger, pins, payments, bank, p2p } = app.services;
    const currencies = ["EUR", "USD"];

    // 100 accounts: 80 customer wallets and 20 business wallets, half in each currency.
    const customers: { id: string; account: LedgerAccount }[] = [];
    const businesses: { id: string; account: LedgerAccount; bankAccountId: string }[] = [];
    for (let i = 0; i < 80; i++) {
      const id = `sim_cus_${i}`;
      customers.push({ id, account: await ledger.ensureAccount({ kind: "customer", id }, "customer_wallet", currencies[i % 2]!) });
    }
    await Promise.all(customers.slice(0, 40).map((c) => pins.set(c.id, TEST_PIN, "")));
    for (let i = 0; i < 20; i++) {
      const id = `sim_biz_${i}`;
      const currency = currencies[i % 2]!;
      const account = await ledger.ensureAccount({ kind: "business", id }, "business_wallet", currency);
      // Every fifth business banks where accounts are closed: its payouts always fail.
      const linked = await bank.link({ kind: "business", id }, currency, validateBankNumber({ iban: ibanOf("DE", `37040044053201${i % 5 === 0 ? "0002" : String(1000 + i)}`) }), "");
      businesses.push({ id, account, bankAccountId: linked.id });
    }
    const funding = await Promise.all(currencies.map((c) => ledger.ensureAccount(clearingOwner("funding"), "bank_clearing", c)));
    await Promise.all(
      customers.map((c) =>
        ledger.postTransfer("sim", { idempotencyKey: `fund:${c.id}`, fromAccountId: funding[currencies.indexOf(c.account.currency)]!.id, toAccountId: c.account.id, amount: { amountMinor: 100_000n, currency: c.account.currency }, note: "" }, "topup"),
      ),
    );

    const retried: { first: string; again: string }[] = [];
    const refusedReuse: string[] = [];
    const unexpected: string[] = [];
    const pendingIds: string[] = [];
    const refusal = (err: unknown) => {
      if (err instanceof KontorError && ["INSUFFICIENT_FUNDS", "CURRENCY_MISMATCH", "PAYMENT_NOT_CONFIRMABLE", "REFUND_EXCEEDS_CAPTURED", "PENDING_EXPIRED", "PENDING_VOIDED", "PENDING_POSTED", "PAYMENT_NOT_CAPTURED"].includes(err.reason)) return;
      unexpected.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    };

    // The operations are drawn up front from the seed, then run on LANES concurrent lanes.
    const amount = (max: number) => BigInt(1 + Math.floor(random() * max));
    const ops: (() => Promise<void>)[] = [];
    for (let i = 0; i < OPS; i++) {
      const roll = random();
      const key = `sim:${SEED}:${i}`;
      if (roll < 0.4) {
        const from = pick(customers);
        const to = random() < 0.5 ? pick(customers) : pick(businesses);
        if (to.account.id === from.account.id) continue;
        // One in twenty names the other currency for the amount: mixing currencies is refused.
        const mixed = random() < 0.05;
        const currency = mixed ? currencies.find((c) => c !== from.account.currency)! : from.account.currency;
        const request = { idempotencyKey: key, fromAccountId: from.account.id, toAccountId: to.account.id, amount: { amountMinor: amount(30_000), currency }, note: "" };
        const retry = random();
        ops.push(async () => {
          if (mixed) {
            await ledger.postTransfer(`customer:${from.id}`, request, "p2p").then(
              () => unexpected.push("an amount in another currency was accepted"),
              (err: unknown) => (err instanceof KontorError && err.reason === "CURRENCY_MISMATCH" ? undefined : refusal(err)),
            );
            return;
          }
          try {
            const first = await ledger.postTransfer(`customer:${from.id}`, request, "p2p");
            if (retry < 0.3) {
              const again = await ledger.postTransfer(`customer:${from.id}`, request, "p2p");
              retried.push({ first: first.transfer.id, again: again.transfer.id });
            } else if (retry < 0.4) {
              await ledger.postTransfer(`customer:${from.id}`, { ...request, amount: { ...request.amount, amountMinor: request.amount.amountMinor + 1n } }, "p2p").then(
                () => unexpected.push("a reused key with another body was accepted"),
                (err: unknown) => (err instanceof KontorError && err.reason === "IDEMPOTENCY_KEY_REUSED" ? refusedReuse.push(key) : refusal(err)),
              );
            }
          } catch (err) {
            refusal(err);
          }
        });
      } else if (roll < 0.55) {
        const from = pick(customers);
        const to = pick(businesses);
        const post = random() < 0.6;
        ops.push(async () => {
          try {
            const t = await ledger.reserve({ caller: "sim", idempotencyKey: key, fromAccountId: from.account.id, toAccountId: to.account.id, amount: { amountMinor: amount(20_000), currency: from.account.currency }, note: "", reason: "transfer", reference: "", pendingUntil: new Date(Date.now() + 3_600_000) });
            pendingIds.push(t.id);
            if (post) await ledger.postPending(t.id);
            else await ledger.voidPending(t.id);
          } catch (err) {
            refusal(err);
          }
        });
      } else if (roll < 0.8) {
        const c = pick(customers.slice(0, 40));
        const b = pick(businesses.filter((x) => x.account.currency === c.account.currency));
        const price = amount(25_000);
        const refunds = [random(), random()];
        ops.push(async () => {
          try {
            const { payment } = await payments.create("service:catalog", { idempotencyKey: `${key}:pi`, orderId: key, businessId: b.id, customerId: c.id, amount: { amountMinor: price, currency: c.account.currency } });
            const done = await payments.confirm(`customer:${c.id}`, { idempotencyKey: `${key}:c`, paymentId: payment.id, pin: TEST_PIN }, c.id);
            if (done.payment.state !== "succeeded") return;
            for (const [n, share] of refunds.entries()) {
              if (share < 0.5) continue;
              await payments.refund(`business:${b.id}`, { idempotencyKey: `${key}:r${n}`, paymentId: payment.id, amount: { amountMinor: BigInt(Math.ceil(Number(price) * (share - 0.4))), currency: c.account.currency }, reason: "" }).catch(refusal);
            }
          } catch (err) {
            refusal(err);
          }
        });
      } else if (roll < 0.9) {
        const b = pick(businesses);
        ops.push(async () => {
          const account = await ledger.getAccount(b.account.id);
          await bank.payout(`business:${b.id}`, { idempotencyKey: key, account, bankAccountId: b.bankAccountId, amount: { amountMinor: amount(10_000), currency: account.currency } }).catch(refusal);
        });
      } else {
        const from = pick(customers.slice(0, 40));
        const to = pick(customers.filter((x) => x.account.currency === from.account.currency && x.id !== from.id));
        ops.push(async () => {
          try {
            const { request } = await p2p.request(`customer:${to.id}`, { idempotencyKey: key, requesterCustomerId: to.id, payerCustomerId: from.id, amount: { amountMinor: amount(15_000), currency: from.account.currency }, note: "", expiresInSeconds: 0 });
            await p2p.respond(`customer:${from.id}`, { idempotencyKey: `${key}:r`, id: request.id, approve: random() < 0.8, pin: TEST_PIN }, from.id);
          } catch (err) {
            refusal(err);
          }
        });
      }
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: LANES }, async () => {
        while (next < ops.length) await ops[next++]!();
      }),
    );
    // Payouts settle or fail through the bank's (doubled) callbacks.
    await waitFor(async () => ((await app.runtime.db.selectFrom("bank_operation").select("id").where("state", "=", "pending").execute()).length === 0 ? true : undefined), 30_000);

    const db = app.runtime.db;
    expect(unexpected).toEqual([]);
    // Every retry answered with its original; every reused key with another body was refused.
    for (const r of retried) expect(r.again).toBe(r.first);
    expect(retried.length + refusedReuse.length).toBeGreaterThan(0);
    // Conservation: in each currency the balances sum to zero.
    const sums = await db.selectFrom("ledger_account").select("currency").select((eb) => eb.fn.sum<string>("balance_minor").as("total")).groupBy("currency").execute();
    expect(sums.map((s) => [s.currency, s.total]).sort()).toEqual([["EUR", "0"], ["USD", "0"]]);
    // No account below what it may: available = balance - pending >= 0 unless the kind allows it.
    const negative = await db.selectFrom("ledger_account").select(["id", "kind"]).where("allow_negative_balance", "=", false).where(sql<boolean>`balance_minor - pending_debits_minor < 0`).execute();
    expect(negative).toEqual([]);
    // Replaying the journal gives the stored balances, and open reservations the pending debits.
    const replay = await sql<{ id: string }>`
      SELECT a.id FROM ledger_account a
      LEFT JOIN (SELECT account_id, sum(amount_minor) AS s FROM ledger_entry GROUP BY account_id) e ON e.account_id = a.id
      LEFT JOIN (SELECT from_account_id, sum(amount_minor) AS p FROM ledger_transfer WHERE state = 'pending' GROUP BY from_account_id) t ON t.from_account_id = a.id
      WHERE coalesce(e.s, 0) <> a.balance_minor OR coalesce(t.p, 0) <> a.pending_debits_minor`.execute(db);
    expect(replay.rows).toEqual([]);
    // Each posted transfer is two entries that cancel out; a pending or voided one has none.
    const shapes = await sql<{ id: string }>`
      SELECT t.id FROM ledger_transfer t LEFT JOIN ledger_entry e ON e.transfer_id = t.id
      GROUP BY t.id, t.state HAVING (t.state = 'posted' AND (count(e.id) <> 2 OR sum(e.amount_minor) <> 0)) OR (t.state <> 'posted' AND count(e.id) <> 0)`.execute(db);
    expect(shapes.rows).toEqual([]);
    // Refunds never exceed what was captured; each intent's refunds add up to its refunded total.
    const intents = await sql<{ id: string }>`
      SELECT p.id FROM payment_intent p LEFT JOIN payment_refund r ON r.payment_id = p.id
      GROUP BY p.id HAVING coalesce(sum(r.amount_minor), 0) <> max(p.refunded_minor) OR max(p.refunded_minor) > max(p.amount_minor)`.execute(db);
    expect(intents.rows).toEqual([]);
    // Settled payouts were posted, failed ones voided.
    const payouts = await sql<{ id: string }>`
      SELECT o.id FROM bank_operation o JOIN ledger_transfer t ON t.id = o.transfer_id
      WHERE o.kind = 'payout' AND NOT ((o.state = 'settled' AND t.state = 'posted') OR (o.state = 'failed' AND t.state = 'voided'))`.execute(db);
    expect(payouts.rows).toEqual([]);
    const states = await db.selectFrom("bank_operation").select("state").select((eb) => eb.fn.countAll<number>().as("n")).groupBy("state").execute();
    expect(states.map((s) => s.state).sort()).toEqual(["failed", "settled"]);
  });
});
