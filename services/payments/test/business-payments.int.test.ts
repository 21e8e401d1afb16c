import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { headers } from "nats";
import { OrderPlaced } from "@kontor/proto/catalog/v1/events";
import { OrderState } from "@kontor/proto/catalog/v1/catalog_service";
import { PaymentOutcome } from "@kontor/proto/catalog/v1/payment_events";
import { PaymentIntentState, PaymentsServiceClient, type PaymentIntent } from "@kontor/proto/payments/v1/payments_service";
import { PaymentFailed, PaymentRefunded, PaymentSucceeded } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { clearingOwner, SYSTEM_ACCOUNTS } from "../src/domain/ledger-service.js";
import { subjects } from "../src/events/subjects.js";
import { ibanOf, TEST_PIN, testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let client: PaymentsServiceClient;
let clock = new Date("2026-12-01T10:00:00Z");
let billing: string;
let catalog: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env, { PLAN_FEE_BPS: '{"starter":290,"growth":150,"free":0}', DEFAULT_PLAN: "starter", PAYMENT_INTENT_TTL_MS: "600000" })), { now: () => clock });
  const { port } = await app.start();
  client = clientFor(PaymentsServiceClient, port);
  billing = await env.token({ kind: "staff", staffId: "billing_1", roles: ["payments.billing_admin"] });
  catalog = await env.token({ kind: "service", service: "catalog" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const eur = (amountMinor: string) => ({ amountMinor, currency: "EUR" });

async function customer(opening: bigint): Promise<{ id: string; token: string }> {
  const id = uniqueId("cus");
  const token = await env.token({ kind: "customer", customerId: id });
  await unaryCall(client.setPaymentPin.bind(client), { customerId: id, newPin: TEST_PIN, currentPin: "" }, { token });
  const { ledger } = app.services;
  const wallet = await ledger.ensureAccount({ kind: "customer", id }, "customer_wallet", "EUR");
  const clearing = await ledger.ensureAccount(clearingOwner("test"), "bank_clearing", "EUR");
  if (opening > 0n) await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: wallet.id, amount: { amountMinor: opening, currency: "EUR" }, note: "" }, "topup");
  return { id, token };
}

async function business(): Promise<{ id: string; token: string }> {
  const id = uniqueId("biz");
  return { id, token: await env.token({ kind: "business", businessId: id }) };
}

async function wallets(customerId: string, businessId: string): Promise<[bigint, bigint, bigint]> {
  const { ledger } = app.services;
  const c = await ledger.findWallet({ kind: "customer", id: customerId }, "EUR");
  const b = await ledger.findWallet({ kind: "business", id: businessId }, "EUR");
  const f = await ledger.findWallet(SYSTEM_ACCOUNTS.fees.owner, "EUR");
  return [c?.balanceMinor ?? 0n, b?.balanceMinor ?? 0n, f?.balanceMinor ?? 0n];
}

async function intent(biz: { id: string; token: string }, customerId: string, amount: string, orderId = uniqueId("ord")): Promise<PaymentIntent> {
  const res = await unaryCall(client.createPaymentIntent.bind(client), { idempotencyKey: uniqueId("pi"), orderId, businessId: biz.id, customerId, amount: eur(amount) }, { token: biz.token });
  return res.payment!;
}

async function confirm(payment: PaymentIntent, c: { token: string }, pin = TEST_PIN) {
  return unaryCall(client.confirmPaymentIntent.bind(client), { idempotencyKey: uniqueId("c"), paymentId: payment.id, pin }, { token: c.token });
}

describe("ConfirmPaymentIntent", () => {
  it("when the customer confirms with the PIN, then the amount reaches the business less the plan's fee, and payment.succeeded carries what catalog reads", async () => {
    const biz = await business();
    await unaryCall(client.setBusinessPlan.bind(client), { businessId: biz.id, plan: "growth" }, { token: billing });
    const c = await customer(10_000n);
    const [, , feesBefore] = await wallets(c.id, biz.id);
    const p = await intent(biz, c.id, "3333");
    expect(p.state).toBe(PaymentIntentState.PAYMENT_INTENT_STATE_REQUIRES_CONFIRMATION);
    const done = await confirm(p, c);
    expect(done.payment).toMatchObject({ state: PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED, fee: eur("49"), feeBps: 150 });
    const [cust, shop, fees] = await wallets(c.id, biz.id);
    expect([cust, shop, fees - feesBefore]).toEqual([6667n, 3284n, 49n]);

    await outboxDrained(app.runtime.database.pool);
    const raw = (await streamMessages(env, "payments", subjects.paymentSucceeded)).map((m) => m.data).filter((d) => PaymentSucceeded.decode(d).paymentId === p.id);
    expect(raw).toHaveLength(1);
    expect(PaymentSucceeded.decode(raw[0]!)).toMatchObject({ orderId: p.orderId, businessId: biz.id, customerId: c.id, feeBps: 150, meta: { businessId: biz.id } });
    // Catalog decodes the same bytes with its own copy of the shape.
    expect(PaymentOutcome.decode(raw[0]!)).toMatchObject({ paymentId: p.id, orderId: p.orderId, amount: eur("3333"), fee: eur("49") });
  });

  it("when the wallet cannot cover it, then the intent fails (payment.failed INSUFFICIENT_FUNDS) and nothing moves", async () => {
    const biz = await business();
    const c = await customer(100n);
    const p = await intent(biz, c.id, "101");
    const res = await confirm(p, c);
    expect(res.payment).toMatchObject({ state: PaymentIntentState.PAYMENT_INTENT_STATE_FAILED, failureReason: "INSUFFICIENT_FUNDS" });
    expect((await wallets(c.id, biz.id)).slice(0, 2)).toEqual([100n, 0n]);
    const again = await expectFailure(client.confirmPaymentIntent.bind(client), { idempotencyKey: uniqueId("c"), paymentId: p.id, pin: TEST_PIN }, { token: c.token });
    expect(errorDetail(again)?.reason).toBe("PAYMENT_NOT_CONFIRMABLE");
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.paymentFailed)).map((m) => PaymentFailed.decode(m.data)).filter((e) => e.paymentId === p.id);
    expect(events.map((e) => e.reason)).toEqual(["INSUFFICIENT_FUNDS"]);
  });

  it("when nobody confirms in time, then the sweep fails the intent as EXPIRED and a late confirm cannot pay", async () => {
    const biz = await business();
    const c = await customer(1000n);
    const p = await intent(biz, c.id, "500");
    clock = new Date(clock.getTime() + 600_001);
    expect(await app.services.payments.expireIntents()).toBeGreaterThanOrEqual(1);
    const late = await expectFailure(client.confirmPaymentIntent.bind(client), { idempotencyKey: uniqueId("c"), paymentId: p.id, pin: TEST_PIN }, { token: c.token });
    expect(errorDetail(late)?.reason).toBe("PAYMENT_NOT_CONFIRMABLE");
    const read = await unaryCall(client.getPaymentIntent.bind(client), { paymentId: p.id, orderId: "", businessId: "" }, { token: biz.token });
    expect(read.payment).toMatchObject({ state: PaymentIntentState.PAYMENT_INTENT_STATE_FAILED, failureReason: "EXPIRED" });
    expect((await wallets(c.id, biz.id))[0]).toBe(1000n);
  });

  it("when the confirmation is retried with its key, then the first result comes back and the money moved once; another customer cannot confirm", async () => {
    const biz = await business();
    const c = await customer(1000n);
    const p = await intent(biz, c.id, "400");
    const stranger = await customer(1000n);
    expect((await expectFailure(client.confirmPaymentIntent.bind(client), { idempotencyKey: uniqueId("c"), paymentId: p.id, pin: TEST_PIN }, { token: stranger.token })).code).toBe(status.PERMISSION_DENIED);
    const req = { idempotencyKey: uniqueId("c"), paymentId: p.id, pin: TEST_PIN };
    const [a, b] = await Promise.all([unaryCall(client.confirmPaymentIntent.bind(client), req, { token: c.token }), unaryCall(client.confirmPaymentIntent.bind(client), req, { token: c.token })]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(a.payment?.state).toBe(PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED);
    expect((await wallets(c.id, biz.id))[0]).toBe(600n);
  });

  it("when one payment is confirmed many times at once, with one key repeated and other keys, then it is paid once: one success, its key's repeats replay it, other keys are refused", async () => {
    const biz = await business();
    const c = await customer(1000n);
    const p = await intent(biz, c.id, "300");
    const key = uniqueId("c");
    const keys = [key, key, key, uniqueId("c"), uniqueId("c"), key];
    const results = await Promise.allSettled(keys.map((k) => unaryCall(client.confirmPaymentIntent.bind(client), { idempotencyKey: k, paymentId: p.id, pin: TEST_PIN }, { token: c.token })));
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as { code: number }] : []));
    expect(ok.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of ok) expect(r.payment?.state).toBe(PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED);
    // The winner is whichever key came first; every other call is a replay of it (same key) or refused (another key).
    const winner = keys[results.findIndex((r) => r.status === "fulfilled" && !r.value.replayed)]!;
    expect(ok).toHaveLength(keys.filter((k) => k === winner).length);
    expect(refused).toHaveLength(keys.length - ok.length);
    for (const e of refused) expect(errorDetail(e as never)?.reason).toBe("PAYMENT_NOT_CONFIRMABLE");
    expect((await wallets(c.id, biz.id))[0]).toBe(700n);
  });
});

describe("a hot business", () => {
  it("when many customers pay one business at once, then every payment succeeds or fails on its own and the business gets each less its fee", async () => {
    const biz = await business();
    const buyers = await Promise.all(Array.from({ length: 30 }, (_, i) => customer(i % 5 === 0 ? 50n : 1000n)));
    const intents = await Promise.all(buyers.map((c) => intent(biz, c.id, "1000")));
    const results = await Promise.all(intents.map((p, i) => confirm(p, buyers[i]!)));
    const states = results.map((r) => r.payment!.state);
    expect(states.filter((s) => s === PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED)).toHaveLength(24);
    expect(results.filter((r) => r.payment!.failureReason === "INSUFFICIENT_FUNDS")).toHaveLength(6);
    // starter plan: 290 bps of 1000 is 29.
    expect((await wallets(buyers[1]!.id, biz.id))[1]).toBe(24n * 971n);
  });
});

describe("RefundPayment", () => {
  async function paid(amount: string) {
    const biz = await business();
    const c = await customer(100_000n);
    const p = await intent(biz, c.id, amount);
    await confirm(p, c);
    return { biz, c, p };
  }

  it("when a refund goes to the customer's bank, then it waits in refunds-in-flight until the bank settles it; a bank that refuses it sends it to the wallet", async () => {
    const { biz, c, p } = await paid("10000"); // fee 290
    const link = async (iban: string) =>
      (await unaryCall(client.linkBankAccount.bind(client), { owner: { owner: { $case: "customerId", value: c.id } }, currency: "EUR", number: { $case: "iban", value: iban }, holderName: "Ada" }, { token: c.token })).bankAccount!;
    const good = await link(ibanOf("DE", "370400440532013000"));
    const closed = await link(ibanOf("DE", "370400440532010002"));
    const inFlight = async () => (await app.services.ledger.findWallet(SYSTEM_ACCOUNTS.refunds.owner, "EUR"))?.balanceMinor ?? 0n;
    const clearing = async () => (await app.services.ledger.findWallet(clearingOwner("sandbox"), "EUR"))?.balanceMinor ?? 0n;
    const [inFlightBefore, clearingBefore] = [await inFlight(), await clearing()];
    const refund = (amount: string, bankAccountId: string) =>
      unaryCall(client.refundPayment.bind(client), { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur(amount), reason: "", bankAccountId }, { token: biz.token });
    const operationState = (id: string) => waitFor(async () => {
      const op = await app.services.bank.get(id);
      return op.state !== "pending" ? op.state : undefined;
    });

    const out = await refund("4000", good.id);
    expect(out.refund?.bankOperationId).not.toBe("");
    expect(await operationState(out.refund!.bankOperationId)).toBe("settled");
    expect((await wallets(c.id, biz.id))[0]).toBe(90_000n);
    // Out to the bank, as a payout goes: the clearing account records what left for the bank.
    expect(await clearing()).toBe(clearingBefore + 4000n);

    const back = await refund("1000", closed.id);
    expect(await operationState(back.refund!.bankOperationId)).toBe("failed");
    expect((await wallets(c.id, biz.id))[0]).toBe(91_000n);
    expect(await inFlight()).toBe(inFlightBefore);

    // Only the customer's own bank account, in the payment's currency.
    const stranger = await customer(0n);
    const theirs = (await unaryCall(client.linkBankAccount.bind(client), { owner: { owner: { $case: "customerId", value: stranger.id } }, currency: "EUR", number: { $case: "iban", value: ibanOf("DE", "370400440532013000") }, holderName: "Bo" }, { token: stranger.token })).bankAccount!;
    const refused = await expectFailure(client.refundPayment.bind(client), { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur("1"), reason: "", bankAccountId: theirs.id }, { token: biz.token });
    expect(errorDetail(refused)?.field).toBe("bank_account_id");
    expect((await wallets(c.id, biz.id))[0]).toBe(91_000n);
  });

  it("when refunds are partial and then full, then the customer gets it all back, the fee returns in proportion and in full at the end", async () => {
    const { biz, c, p } = await paid("10000"); // fee 290
    const refund = (amount: string) => unaryCall(client.refundPayment.bind(client), { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur(amount), reason: "damaged", bankAccountId: "" }, { token: biz.token });
    const first = await refund("3333");
    expect(first.refund).toMatchObject({ amount: eur("3333"), feeReturned: eur("96") });
    expect(first.payment?.refunded).toEqual(eur("3333"));
    const over = await expectFailure(client.refundPayment.bind(client), { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur("6668"), reason: "", bankAccountId: "" }, { token: biz.token });
    expect(errorDetail(over)).toMatchObject({ reason: "REFUND_EXCEEDS_CAPTURED", field: "amount.amount_minor" });
    const last = await refund("6667");
    expect(last.refund?.feeReturned).toEqual(eur("194"));
    expect(last.payment?.refunded).toEqual(eur("10000"));
    const [cust, shop] = await wallets(c.id, biz.id);
    expect([cust, shop]).toEqual([100_000n, 0n]);

    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.paymentRefunded)).map((m) => PaymentRefunded.decode(m.data)).filter((e) => e.paymentId === p.id);
    expect(events.map((e) => [e.amount?.amountMinor, e.fee?.amountMinor, e.refundedTotal?.amountMinor, e.fullyRefunded])).toEqual([
      ["3333", "96", "3333", false],
      ["6667", "194", "10000", true],
    ]);
  });

  it("when a refund is retried with its key, then it is refunded once; another business or the customer cannot refund", async () => {
    const { biz, c, p } = await paid("1000");
    const req = { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur("500"), reason: "", bankAccountId: "" };
    const first = await unaryCall(client.refundPayment.bind(client), req, { token: biz.token });
    const again = await unaryCall(client.refundPayment.bind(client), req, { token: biz.token });
    expect(again).toMatchObject({ replayed: true, refund: { id: first.refund!.id } });
    expect((await wallets(c.id, biz.id))[0]).toBe(99_500n);
    const other = await business();
    expect((await expectFailure(client.refundPayment.bind(client), { ...req, idempotencyKey: uniqueId("r") }, { token: other.token })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.refundPayment.bind(client), { ...req, idempotencyKey: uniqueId("r") }, { token: c.token })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.getPaymentIntent.bind(client), { paymentId: p.id, orderId: "", businessId: "" }, { token: other.token })).code).toBe(status.PERMISSION_DENIED);
  });

  it("when a payment never succeeded, then it cannot be refunded", async () => {
    const biz = await business();
    const c = await customer(0n);
    const p = await intent(biz, c.id, "100");
    const err = await expectFailure(client.refundPayment.bind(client), { idempotencyKey: uniqueId("r"), paymentId: p.id, amount: eur("1"), reason: "", bankAccountId: "" }, { token: biz.token });
    expect(errorDetail(err)?.reason).toBe("PAYMENT_NOT_CAPTURED");
  });
});

describe("payment intents for catalog orders", () => {
  it("when catalog asks twice for one order, then one intent; another amount for the order is refused", async () => {
    const biz = await business();
    const c = await customer(0n);
    const orderId = uniqueId("ord");
    const req = { idempotencyKey: uniqueId("pi"), orderId, businessId: biz.id, customerId: c.id, amount: eur("700") };
    const a = await unaryCall(client.createPaymentIntent.bind(client), req, { token: catalog });
    const b = await unaryCall(client.createPaymentIntent.bind(client), { ...req, idempotencyKey: uniqueId("pi") }, { token: catalog });
    expect(b.payment?.id).toBe(a.payment?.id);
    const other = await expectFailure(client.createPaymentIntent.bind(client), { ...req, idempotencyKey: uniqueId("pi"), amount: eur("701") }, { token: catalog });
    expect(errorDetail(other)?.reason).toBe("ORDER_ALREADY_HAS_PAYMENT");
    const foreign = await business();
    expect((await expectFailure(client.createPaymentIntent.bind(client), { ...req, idempotencyKey: uniqueId("pi") }, { token: foreign.token })).code).toBe(status.PERMISSION_DENIED);
  });

  it("when kontor.catalog.order.placed.v1 arrives (twice), then the order gets one intent the customer can find and pay", async () => {
    const biz = await business();
    const c = await customer(5000n);
    const orderId = uniqueId("ord");
    const eventId = uniqueId("evt");
    const payload = OrderPlaced.encode({
      meta: { eventId, occurredAt: new Date(), businessId: biz.id },
      order: { id: orderId, businessId: biz.id, customerId: c.id, catalogId: "cat", state: OrderState.ORDER_STATE_PENDING_PAYMENT, items: [], subtotal: eur("1500"), total: eur("1500"), note: "", deliveryAddress: undefined, tracking: undefined, reservedUntil: undefined, createdAt: new Date(), updatedAt: new Date(), source: "chat" },
    }).finish();
    const nc = await env.nats();
    const js = nc.jetstream();
    // The same event id twice, past the stream's dedupe (different Nats-Msg-Id): the consumer's own dedupe must hold.
    for (const msgId of ["m1", "m2"]) {
      const h = headers();
      h.set("Nats-Msg-Id", `${eventId}-${msgId}`);
      await waitFor(async () => js.publish(`${env.natsPrefix}kontor.catalog.order.placed.v1`, payload, { headers: h }).then(() => true, () => undefined));
    }
    const found = await waitFor(async () => {
      const res = await unaryCall(client.getPaymentIntent.bind(client), { paymentId: "", orderId, businessId: biz.id }, { token: c.token }).catch(() => undefined);
      return res?.payment;
    });
    expect(found).toMatchObject({ amount: eur("1500"), customerId: c.id, state: PaymentIntentState.PAYMENT_INTENT_STATE_REQUIRES_CONFIRMATION });
    await waitFor(async () => ((await app.runtime.db.selectFrom("processed_events").select("event_id").where("event_id", "=", eventId).execute()).length === 1 ? true : undefined));
    expect((await app.runtime.db.selectFrom("payment_intent").select("id").where("order_id", "=", orderId).execute()).length).toBe(1);
    expect((await confirm(found, c)).payment?.state).toBe(PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED);
  });
});

describe("poison order events", () => {
  it("when an order.placed cannot be paid (no total) or is not protobuf, then it is terminated and the next order still gets its intent", async () => {
    const biz = await business();
    const c = await customer(0n);
    const js = (await env.nats()).jetstream();
    const subject = `${env.natsPrefix}kontor.catalog.order.placed.v1`;
    const order = (id: string, total: { amountMinor: string; currency: string } | undefined) =>
      OrderPlaced.encode({
        meta: { eventId: uniqueId("evt"), occurredAt: new Date(), businessId: biz.id },
        order: { id, businessId: biz.id, customerId: c.id, catalogId: "cat", state: OrderState.ORDER_STATE_PENDING_PAYMENT, items: [], subtotal: total, total, note: "", deliveryAddress: undefined, tracking: undefined, reservedUntil: undefined, createdAt: new Date(), updatedAt: new Date(), source: "chat" },
      }).finish();
    const noTotal = uniqueId("ord");
    const good = uniqueId("ord");
    await waitFor(async () => js.publish(subject, order(noTotal, undefined)).then(() => true, () => undefined));
    await js.publish(subject, new Uint8Array([0xff, 0xff, 0xff]));
    await js.publish(subject, order(good, eur("900")));
    await waitFor(async () => {
      const res = await unaryCall(client.getPaymentIntent.bind(client), { paymentId: "", orderId: good, businessId: biz.id }, { token: biz.token }).catch(() => undefined);
      return res?.payment;
    });
    expect((await app.runtime.db.selectFrom("payment_intent").select("id").where("order_id", "=", noTotal).execute()).length).toBe(0);
  });
});

describe("SetBusinessPlan", () => {
  it("when the plan is unknown, then INVALID_ARGUMENT naming plan; the default plan's fee applies without one", async () => {
    const biz = await business();
    const bad = await expectFailure(client.setBusinessPlan.bind(client), { businessId: biz.id, plan: "platinum" }, { token: billing });
    expect(errorDetail(bad)?.field).toBe("plan");
    expect(await app.services.payments.planOf(biz.id)).toEqual({ plan: "starter", feeBps: 290 });
  });
});
