import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { BankOperationState, PaymentsServiceClient, type BankAccount, type BankOperation } from "@kontor/proto/payments/v1/payments_service";
import { PayoutFailed, PayoutSettled } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { createSandboxBank, signCallback, type BankRail } from "../src/domain/bank-rail.js";
import { clearingOwner } from "../src/domain/ledger-service.js";
import { subjects } from "../src/events/subjects.js";
import { ibanOf, TEST_PIN, testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let client: PaymentsServiceClient;
const SECRET = "bank-test-secret-0123456789";

beforeAll(async () => {
  env = await createTestEnv();
  // Every callback arrives twice, as a webhook retry would: each must apply once.
  const rail = createSandboxBank({ secret: SECRET, latencyMs: 0, failureRate: 0, seed: "t", duplicateCallbacks: true });
  app = await createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: SECRET })), { rail });
  const { port } = await app.start();
  client = clientFor(PaymentsServiceClient, port);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const GOOD_IBAN = ibanOf("DE", "370400440532013000");
const CLOSED_IBAN = ibanOf("DE", "370400440532010002");

async function customer(): Promise<{ id: string; token: string }> {
  const id = uniqueId("cus");
  const token = await env.token({ kind: "customer", customerId: id });
  await unaryCall(client.setPaymentPin.bind(client), { customerId: id, newPin: TEST_PIN, currentPin: "" }, { token });
  return { id, token };
}

async function link(ownerId: string, token: string, iban: string, kind: "customerId" | "businessId" = "customerId"): Promise<BankAccount> {
  const res = await unaryCall(client.linkBankAccount.bind(client), { owner: { owner: { $case: kind, value: ownerId } }, currency: "EUR", number: { $case: "iban", value: iban }, holderName: "Ada" }, { token });
  return res.bankAccount!;
}

async function settled(operationId: string, token: string): Promise<BankOperation> {
  return waitFor(async () => {
    const { operation } = await unaryCall(client.getBankOperation.bind(client), { operationId }, { token });
    return operation!.state !== BankOperationState.BANK_OPERATION_STATE_PENDING ? operation : undefined;
  });
}

async function wallet(customerId: string) {
  return app.services.ledger.ensureAccount({ kind: "customer", id: customerId }, "customer_wallet", "EUR");
}

const eur = (amountMinor: string) => ({ amountMinor, currency: "EUR" });

describe("LinkBankAccount", () => {
  it("when an account is linked, then it is stored encrypted, shown masked, and linking it again returns the same one", async () => {
    const c = await customer();
    const linked = await link(c.id, c.token, GOOD_IBAN);
    expect(linked.masked).toBe("DE** **** 3000");
    expect(JSON.stringify(linked)).not.toContain("0532013000");
    const row = await app.runtime.db.selectFrom("bank_account").selectAll().where("id", "=", linked.id).executeTakeFirstOrThrow();
    expect(row.number_sealed.toString("latin1")).not.toContain("0532013000");
    expect(row.masked).not.toContain("0532013000");
    expect((await link(c.id, c.token, GOOD_IBAN.toLowerCase())).id).toBe(linked.id);
    const { bankAccounts } = await unaryCall(client.listBankAccounts.bind(client), { owner: { owner: { $case: "customerId", value: c.id } } }, { token: c.token });
    expect(bankAccounts.map((b) => b.id)).toEqual([linked.id]);
  });

  it("when the IBAN's check digits are wrong or another principal links, then INVALID_ARGUMENT naming iban, or PERMISSION_DENIED", async () => {
    const c = await customer();
    const bad = await expectFailure(client.linkBankAccount.bind(client), { owner: { owner: { $case: "customerId", value: c.id } }, currency: "EUR", number: { $case: "iban", value: "DE88370400440532013000" }, holderName: "" }, { token: c.token });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(bad)?.field).toBe("iban");
    const other = await customer();
    const denied = await expectFailure(client.listBankAccounts.bind(client), { owner: { owner: { $case: "customerId", value: c.id } } }, { token: other.token });
    expect(denied.code).toBe(status.PERMISSION_DENIED);
  });
});

describe("TopUp", () => {
  it("when the bank settles, then the wallet is credited once from the bank's clearing account", async () => {
    const c = await customer();
    const bank = await link(c.id, c.token, GOOD_IBAN);
    const w = await wallet(c.id);
    const clearingBefore = (await app.services.ledger.ensureAccount(clearingOwner("sandbox"), "bank_clearing", "EUR")).balanceMinor;
    const res = await unaryCall(client.topUp.bind(client), { idempotencyKey: uniqueId("top"), accountId: w.id, bankAccountId: bank.id, amount: eur("5000") }, { token: c.token });
    expect(res.operation?.kind).toBe("topup");
    const done = await settled(res.operation!.id, c.token);
    expect(done.state).toBe(BankOperationState.BANK_OPERATION_STATE_SETTLED);
    // The duplicate callback has been delivered too by now or will change nothing: the entries say so.
    await waitFor(async () => ((await app.services.ledger.getAccount(w.id)).balanceMinor === 5000n ? true : undefined));
    const entries = await app.runtime.db.selectFrom("ledger_entry").select("amount_minor").where("account_id", "=", w.id).execute();
    expect(entries.map((e) => e.amount_minor)).toEqual(["5000"]);
    expect((await app.services.ledger.ensureAccount(clearingOwner("sandbox"), "bank_clearing", "EUR")).balanceMinor).toBe(clearingBefore - 5000n);
  });

  it("when the bank refuses, then the operation fails and nothing moves", async () => {
    const c = await customer();
    const bank = await link(c.id, c.token, CLOSED_IBAN);
    const w = await wallet(c.id);
    const res = await unaryCall(client.topUp.bind(client), { idempotencyKey: uniqueId("top"), accountId: w.id, bankAccountId: bank.id, amount: eur("5000") }, { token: c.token });
    const done = await settled(res.operation!.id, c.token);
    expect(done).toMatchObject({ state: BankOperationState.BANK_OPERATION_STATE_FAILED, failureReason: "ACCOUNT_CLOSED" });
    expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(0n);
  });

  it("when a top-up is retried with its key, then the first operation is returned; another body is FAILED_PRECONDITION", async () => {
    const c = await customer();
    const bank = await link(c.id, c.token, GOOD_IBAN);
    const w = await wallet(c.id);
    const req = { idempotencyKey: uniqueId("top"), accountId: w.id, bankAccountId: bank.id, amount: eur("100") };
    const first = await unaryCall(client.topUp.bind(client), req, { token: c.token });
    const again = await unaryCall(client.topUp.bind(client), req, { token: c.token });
    expect(again).toMatchObject({ replayed: true, operation: { id: first.operation!.id } });
    const other = await expectFailure(client.topUp.bind(client), { ...req, amount: eur("101") }, { token: c.token });
    expect(errorDetail(other)).toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED", field: "idempotency_key" });
    await settled(first.operation!.id, c.token);
    await waitFor(async () => ((await app.services.ledger.getAccount(w.id)).balanceMinor === 100n ? true : undefined));
  });
});

describe("bank callbacks", () => {
  it("when a callback's signature does not verify, then a pending top-up stays pending; a signed one settles it", async () => {
    // A bank that acknowledges orders and never calls back on its own: the test delivers the callbacks.
    const silent: BankRail = { name: "sandbox", submit: async (o) => ({ railReference: `quiet_${o.reference}` }), onCallback: () => undefined, stop: () => undefined };
    const quiet = await createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: SECRET })), { rail: silent });
    try {
      const c = await customer();
      const bank = await link(c.id, c.token, GOOD_IBAN);
      const w = await wallet(c.id);
      const { operation } = await quiet.services.bank.topUp(`customer:${c.id}`, { idempotencyKey: uniqueId("top"), account: w, bankAccountId: bank.id, amount: { amountMinor: 700n, currency: "EUR" } });
      const body = Buffer.from(JSON.stringify({ reference: operation.id, railReference: "x", status: "settled", reason: "" }));
      expect(await quiet.services.bank.receiveCallback(body, signCallback("not-the-secret-at-all", body))).toBe(false);
      expect(await quiet.services.bank.receiveCallback(body, "")).toBe(false);
      expect((await quiet.services.bank.get(operation.id)).state).toBe("pending");
      expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(0n);
      expect(await quiet.services.bank.receiveCallback(body, signCallback(SECRET, body))).toBe(true);
      expect(await quiet.services.bank.receiveCallback(body, signCallback(SECRET, body))).toBe(true);
      expect((await quiet.services.bank.get(operation.id)).state).toBe("settled");
      expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(700n);
    } finally {
      await quiet.stop();
    }
  });
});

describe("the bank callback endpoint (HTTP)", () => {
  it("when a bank POSTs outcomes, then a signed one is applied once (204, also when repeated); a forged, stale or oversized one changes nothing", async () => {
    const silent: BankRail = { name: "sandbox", submit: async (o) => ({ railReference: `quiet_${o.reference}` }), onCallback: () => undefined, stop: () => undefined };
    const quiet = await createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: SECRET })), { rail: silent });
    await quiet.start();
    try {
      const url = quiet.bankCallbacks.url()!;
      const c = await customer();
      const bank = await link(c.id, c.token, GOOD_IBAN);
      const w = await wallet(c.id);
      const { operation } = await quiet.services.bank.topUp(`customer:${c.id}`, { idempotencyKey: uniqueId("top"), account: w, bankAccountId: bank.id, amount: { amountMinor: 300n, currency: "EUR" } });
      const body = Buffer.from(JSON.stringify({ reference: operation.id, railReference: "x", status: "settled", reason: "" }));
      const postIt = (b: Buffer, signature: string | undefined, to = url) =>
        fetch(to, { method: "POST", headers: signature === undefined ? {} : { "kontor-bank-signature": signature }, body: b }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        });
      expect(await postIt(body, signCallback("not-the-secret-at-all", body))).toBe(401);
      expect(await postIt(body, undefined)).toBe(401);
      // A callback captured an hour ago and sent again: its signature is right, its time is not.
      expect(await postIt(body, signCallback(SECRET, body, Date.now() - 3_600_000))).toBe(401);
      expect(await postIt(Buffer.alloc(64 * 1024, 32), signCallback(SECRET, body))).toBe(413);
      expect(await postIt(body, signCallback(SECRET, body), url.replace("/sandbox", "/other"))).toBe(404);
      expect((await quiet.services.bank.get(operation.id)).state).toBe("pending");
      expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(0n);

      const signed = signCallback(SECRET, body);
      expect(await postIt(body, signed)).toBe(204);
      expect(await postIt(body, signed)).toBe(204);
      expect((await quiet.services.bank.get(operation.id)).state).toBe("settled");
      expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(300n);
      expect(quiet.bankCallbacks.received()).toBe(2);
    } finally {
      await quiet.stop();
    }
  });

  it("when the built-in sandbox bank settles an order, then its callback arrives over HTTP at the service's endpoint", async () => {
    const own = await createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: SECRET })));
    await own.start();
    try {
      const c = await customer();
      const bank = await link(c.id, c.token, GOOD_IBAN);
      const w = await wallet(c.id);
      const { operation } = await own.services.bank.topUp(`customer:${c.id}`, { idempotencyKey: uniqueId("top"), account: w, bankAccountId: bank.id, amount: { amountMinor: 250n, currency: "EUR" } });
      await waitFor(async () => ((await own.services.bank.get(operation.id)).state === "settled" ? true : undefined));
      expect(own.bankCallbacks.received()).toBeGreaterThanOrEqual(1);
      expect((await app.services.ledger.getAccount(w.id)).balanceMinor).toBe(250n);
    } finally {
      await own.stop();
    }
  });
});

describe("Payout", () => {
  async function fundedBusiness(amount: bigint) {
    const businessId = uniqueId("biz");
    const token = await env.token({ kind: "business", businessId });
    const { ledger } = app.services;
    const account = await ledger.ensureAccount({ kind: "business", id: businessId }, "business_wallet", "EUR");
    const clearing = await ledger.ensureAccount(clearingOwner("sandbox"), "bank_clearing", "EUR");
    await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: account.id, amount: { amountMinor: amount, currency: "EUR" }, note: "" }, "topup");
    return { businessId, token, account };
  }

  it("when a business settles to its bank, then the amount is reserved at once, posted when the bank settles, and payout.settled is published once", async () => {
    const b = await fundedBusiness(10_000n);
    const bank = await link(b.businessId, b.token, GOOD_IBAN, "businessId");
    const res = await unaryCall(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: b.account.id, bankAccountId: bank.id, amount: eur("6000"), pin: "" }, { token: b.token });
    const done = await settled(res.operation!.id, b.token);
    expect(done.state).toBe(BankOperationState.BANK_OPERATION_STATE_SETTLED);
    expect(await app.services.ledger.getAccount(b.account.id)).toMatchObject({ balanceMinor: 4000n, pendingDebitsMinor: 0n });
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.payoutSettled)).map((m) => PayoutSettled.decode(m.data)).filter((e) => e.payoutId === done.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ bankAccountMasked: "DE** **** 3000", amount: eur("6000"), meta: { businessId: b.businessId } });
  });

  it("when the bank refuses a payout, then the reservation is voided, the balance is whole and payout.failed is published", async () => {
    const b = await fundedBusiness(10_000n);
    const bank = await link(b.businessId, b.token, CLOSED_IBAN, "businessId");
    const res = await unaryCall(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: b.account.id, bankAccountId: bank.id, amount: eur("6000"), pin: "" }, { token: b.token });
    const done = await settled(res.operation!.id, b.token);
    expect(done.state).toBe(BankOperationState.BANK_OPERATION_STATE_FAILED);
    expect(await app.services.ledger.getAccount(b.account.id)).toMatchObject({ balanceMinor: 10_000n, pendingDebitsMinor: 0n });
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.payoutFailed)).map((m) => PayoutFailed.decode(m.data)).filter((e) => e.payoutId === done.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.reason).toBe("ACCOUNT_CLOSED");
  });

  it("when a payout asks for more than is available, then INSUFFICIENT_FUNDS and nothing is reserved", async () => {
    const b = await fundedBusiness(100n);
    const bank = await link(b.businessId, b.token, GOOD_IBAN, "businessId");
    const err = await expectFailure(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: b.account.id, bankAccountId: bank.id, amount: eur("101"), pin: "" }, { token: b.token });
    expect(errorDetail(err)?.reason).toBe("INSUFFICIENT_FUNDS");
    expect((await app.services.ledger.getAccount(b.account.id)).pendingDebitsMinor).toBe(0n);
  });

  it("when a customer pays out, then the PIN is needed; another business's bank account is NOT_FOUND", async () => {
    const c = await customer();
    const bank = await link(c.id, c.token, GOOD_IBAN);
    const w = await wallet(c.id);
    const noPin = await expectFailure(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: w.id, bankAccountId: bank.id, amount: eur("1"), pin: "" }, { token: c.token });
    expect(errorDetail(noPin)?.field).toBe("pin");
    const b = await fundedBusiness(100n);
    const foreign = await expectFailure(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: b.account.id, bankAccountId: bank.id, amount: eur("1"), pin: "" }, { token: b.token });
    expect(foreign.code).toBe(status.NOT_FOUND);
  });
});

describe("scheduled settlement", () => {
  it("when a business's settlement is due and two replicas sweep at once, then one payout of what the wallet holds goes out; a wallet below the minimum waits", async () => {
    let clock = new Date("2026-12-01T10:00:00Z");
    const replica = () => createPayments(loadConfig(testEnv(env, { BANK_WEBHOOK_SECRET: SECRET, SETTLEMENT_INTERVAL_MS: "3600000" })), { now: () => clock });
    const [r1, r2] = [await replica(), await replica()];
    await Promise.all([r1.start(), r2.start()]);
    try {
      const business = async (amount: bigint) => {
        const businessId = uniqueId("biz");
        const token = await env.token({ kind: "business", businessId });
        const { ledger } = app.services;
        const account = await ledger.ensureAccount({ kind: "business", id: businessId }, "business_wallet", "EUR");
        const clearing = await ledger.ensureAccount(clearingOwner("sandbox"), "bank_clearing", "EUR");
        await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: account.id, amount: { amountMinor: amount, currency: "EUR" }, note: "" }, "topup");
        const bank = await link(businessId, token, GOOD_IBAN, "businessId");
        await r1.services.settlement.set(businessId, bank.id, { amountMinor: 1000n, currency: "EUR" }, true);
        return { businessId, token, account, bank };
      };
      const rich = await business(10_000n);
      const poor = await business(500n);
      // Another business's bank account cannot be named.
      const stranger = await env.token({ kind: "business", businessId: uniqueId("biz") });
      expect((await expectFailure(client.setSettlementSchedule.bind(client), { businessId: rich.businessId, bankAccountId: rich.bank.id, minimum: eur("1000"), enabled: true }, { token: stranger })).code).toBe(status.PERMISSION_DENIED);

      expect(await r1.services.settlement.settleDue()).toBe(0);
      clock = new Date(clock.getTime() + 3_600_001);
      const [a, b] = await Promise.all([r1.services.settlement.settleDue(), r2.services.settlement.settleDue()]);
      expect(a + b).toBe(1);
      expect(await r2.services.settlement.settleDue()).toBe(0);
      const payouts = await app.runtime.db.selectFrom("bank_operation").selectAll().where("account_id", "in", [rich.account.id, poor.account.id]).where("kind", "=", "payout").execute();
      expect(payouts.map((p) => [p.account_id, p.amount_minor])).toEqual([[rich.account.id, "10000"]]);
      await waitFor(async () => ((await app.services.ledger.getAccount(rich.account.id)).balanceMinor === 0n ? true : undefined));
      expect(await app.services.ledger.getAccount(poor.account.id)).toMatchObject({ balanceMinor: 500n, pendingDebitsMinor: 0n });
    } finally {
      await Promise.all([r1.stop(), r2.stop()]);
    }
  });
});
