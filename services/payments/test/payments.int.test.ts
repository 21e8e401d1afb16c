import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { sql } from "kysely";
import { PaymentsServiceClient, type Account } from "@kontor/proto/payments/v1/payments_service";
import { AccountOpened, TransferCompleted } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { checkHealth, clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildOpenBusinessAccount, buildOpenCustomerAccount, buildPostTransfer, TEST_PIN, testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let port: number;
let client: PaymentsServiceClient;
let service: string;
let admin: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env)));
  ({ port } = await app.start());
  client = clientFor(PaymentsServiceClient, port);
  // Ads reads every advertiser's balance; a ledger admin runs the system accounts.
  service = await env.token({ kind: "service", service: "ads" });
  admin = await env.token({ kind: "staff", staffId: "ledger_1", roles: ["payments.ledger_admin"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Every message on this test file's payments stream with the given subject. */
async function stored(subject: string): Promise<Uint8Array[]> {
  return (await streamMessages(env, "payments", subject)).map((m) => m.data);
}

async function openCustomer(customerId = uniqueId("cus")): Promise<{ account: Account; token: string }> {
  const token = await env.token({ kind: "customer", customerId });
  const { account } = await unaryCall(client.openAccount.bind(client), buildOpenCustomerAccount(customerId), { token });
  await unaryCall(client.setPaymentPin.bind(client), { customerId, newPin: TEST_PIN, currentPin: "" }, { token });
  return { account: account!, token };
}

/** A system account that may go negative: where money from outside the ledger comes from. */
async function openSettlement(currency = "EUR"): Promise<Account> {
  const req = { owner: { owner: { $case: "system" as const, value: uniqueId("settlement").toLowerCase() } }, currency, allowNegativeBalance: true };
  const { account } = await unaryCall(client.openAccount.bind(client), req, { token: admin });
  return account!;
}

async function balanceOf(accountId: string): Promise<string> {
  const { account } = await unaryCall(client.getAccount.bind(client), { accountId }, { token: service });
  return account!.balance!.amountMinor;
}

async function fund(accountId: string, amountMinor: string, currency = "EUR"): Promise<void> {
  const settlement = await openSettlement(currency);
  await unaryCall(client.postTransfer.bind(client), buildPostTransfer(settlement.id, accountId, { amount: { amountMinor, currency } }), { token: admin });
}

describe("health", () => {
  it("when started, then grpc.health.v1 answers SERVING for the server and the service", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`)).toBe("SERVING");
    expect(await checkHealth(`127.0.0.1:${port}`, "kontor.payments.v1.PaymentsService")).toBe("SERVING");
  });
});

describe("OpenAccount", () => {
  it("when a customer opens an account, then it starts at zero and AccountOpened reaches NATS once", async () => {
    const customerId = uniqueId("cus");
    const { account } = await openCustomer(customerId);
    expect(account.balance).toEqual({ amountMinor: "0", currency: "EUR" });
    expect(account.owner?.owner).toEqual({ $case: "customerId", value: customerId });
    expect(account.allowNegativeBalance).toBe(false);

    await outboxDrained(app.runtime.database.pool);
    const events = (await stored(subjects.accountOpened)).map((d) => AccountOpened.decode(d)).filter((e) => e.accountId === account.id);
    expect(events).toHaveLength(1);
    expect(events[0]?.currency).toBe("EUR");
    expect(events[0]?.owner?.owner).toEqual({ $case: "customerId", value: customerId });
  });

  it("when a business opens an account, then the event carries the business as tenant", async () => {
    const businessId = uniqueId("biz");
    const token = await env.token({ kind: "business", businessId });
    const { account } = await unaryCall(client.openAccount.bind(client), buildOpenBusinessAccount(businessId), { token });
    const events = await waitFor(async () => {
      const all = (await stored(subjects.accountOpened)).map((d) => AccountOpened.decode(d)).filter((e) => e.accountId === account!.id);
      return all.length > 0 ? all : undefined;
    });
    expect(events[0]?.meta?.businessId).toBe(businessId);
  });

  it("when the owner already has an account in that currency, then ALREADY_EXISTS naming currency, without SQL text", async () => {
    const customerId = uniqueId("cus");
    const { token } = await openCustomer(customerId);
    const err = await expectFailure(client.openAccount.bind(client), buildOpenCustomerAccount(customerId), { token });
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(errorDetail(err)?.field).toBe("currency");
    expect(err.details).not.toMatch(/insert|constraint|duplicate key|ledger_/i);
    const usd = await unaryCall(client.openAccount.bind(client), buildOpenCustomerAccount(customerId, { currency: "USD" }), { token });
    expect(usd.account?.balance?.currency).toBe("USD");
  });

  it("when there is no token, then UNAUTHENTICATED", async () => {
    const err = await expectFailure(client.openAccount.bind(client), buildOpenCustomerAccount("cus_x"));
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("when another tenant opens for this owner, then PERMISSION_DENIED", async () => {
    const intruder = await env.token({ kind: "customer", customerId: "cus_intruder" });
    const err = await expectFailure(client.openAccount.bind(client), buildOpenCustomerAccount("cus_victim"), { token: intruder });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const biz = await env.token({ kind: "business", businessId: "biz_a" });
    const err2 = await expectFailure(client.openAccount.bind(client), buildOpenBusinessAccount("biz_b"), { token: biz });
    expect(err2.code).toBe(status.PERMISSION_DENIED);
  });

  it("when an owner asks for a negative-balance account or a system account, then PERMISSION_DENIED", async () => {
    const token = await env.token({ kind: "customer", customerId: "cus_greedy" });
    const err = await expectFailure(client.openAccount.bind(client), buildOpenCustomerAccount("cus_greedy", { allowNegativeBalance: true }), { token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    const sys = await expectFailure(client.openAccount.bind(client), { owner: { owner: { $case: "system", value: "settlement" } }, currency: "EUR", allowNegativeBalance: false }, { token });
    expect(sys.code).toBe(status.PERMISSION_DENIED);
  });

  it("when the input is bad, then INVALID_ARGUMENT names the field", async () => {
    const token = await env.token({ kind: "customer", customerId: "cus_bad" });
    const err = await expectFailure(client.openAccount.bind(client), buildOpenCustomerAccount("cus_bad", { currency: "EURO" }), { token });
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(err)?.field).toBe("currency");
    expect(err.details).toContain("currency");
    const noOwner = await expectFailure(client.openAccount.bind(client), { owner: undefined, currency: "EUR", allowNegativeBalance: false }, { token });
    expect(errorDetail(noOwner)?.field).toBe("owner");
  });
});

describe("GetAccount", () => {
  it("when another tenant reads the account, then PERMISSION_DENIED; an unknown id is NOT_FOUND", async () => {
    const { account, token } = await openCustomer();
    expect((await unaryCall(client.getAccount.bind(client), { accountId: account.id }, { token })).account?.id).toBe(account.id);
    const intruder = await env.token({ kind: "customer", customerId: "cus_snoop" });
    expect((await expectFailure(client.getAccount.bind(client), { accountId: account.id }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.getAccount.bind(client), { accountId: "00000000-0000-4000-8000-000000000000" }, { token })).code).toBe(status.NOT_FOUND);
    const malformed = await expectFailure(client.getAccount.bind(client), { accountId: "'; drop table ledger_account; --" }, { token });
    expect(malformed.code).toBe(status.NOT_FOUND);
    expect(malformed.details).not.toMatch(/uuid|syntax|select/i);
  });
});

describe("PostTransfer", () => {
  it("when a funded customer pays a business, then balances move, the entries sum to zero and TransferCompleted reaches NATS once", async () => {
    const payer = await openCustomer();
    await fund(payer.account.id, "10000");
    const businessId = uniqueId("biz");
    const { account: shop } = await unaryCall(client.openAccount.bind(client), buildOpenBusinessAccount(businessId), { token: await env.token({ kind: "business", businessId }) });

    const res = await unaryCall(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, shop!.id, { note: "2 mugs", pin: TEST_PIN }), { token: payer.token });
    expect(res.replayed).toBe(false);
    expect(res.transfer?.amount).toEqual({ amountMinor: "2500", currency: "EUR" });
    expect(await balanceOf(payer.account.id)).toBe("7500");
    expect(await balanceOf(shop!.id)).toBe("2500");

    const entries = await app.runtime.db.selectFrom("ledger_entry").selectAll().where("transfer_id", "=", res.transfer!.id).orderBy("id").execute();
    expect(entries.map((e) => [e.account_id, e.amount_minor, e.balance_after_minor])).toEqual([
      [payer.account.id, "-2500", "7500"],
      [shop!.id, "2500", "2500"],
    ]);

    await outboxDrained(app.runtime.database.pool);
    const events = (await stored(subjects.transferCompleted)).map((d) => TransferCompleted.decode(d)).filter((e) => e.transferId === res.transfer!.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ fromAccountId: payer.account.id, toAccountId: shop!.id, note: "2 mugs", amount: { amountMinor: "2500", currency: "EUR" } });
    expect(events[0]?.meta?.businessId).toBe(businessId);
    expect(events[0]?.toOwner?.owner).toEqual({ $case: "businessId", value: businessId });
  });

  it("when the same request is retried with its key, then the first transfer is returned and nothing moves again", async () => {
    const payer = await openCustomer();
    await fund(payer.account.id, "10000");
    const payee = await openCustomer();
    const request = buildPostTransfer(payer.account.id, payee.account.id, { pin: TEST_PIN });
    const first = await unaryCall(client.postTransfer.bind(client), request, { token: payer.token });
    const again = await unaryCall(client.postTransfer.bind(client), request, { token: payer.token });
    expect(again.replayed).toBe(true);
    expect(again.transfer?.id).toBe(first.transfer?.id);
    expect(await balanceOf(payer.account.id)).toBe("7500");

    const reused = await expectFailure(client.postTransfer.bind(client), { ...request, amount: { amountMinor: "1", currency: "EUR" } }, { token: payer.token });
    expect(reused.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(reused)).toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED", field: "idempotency_key" });

    await app.runtime.outbox.flush();
    const events = (await stored(subjects.transferCompleted)).map((d) => TransferCompleted.decode(d)).filter((e) => e.transferId === first.transfer!.id);
    expect(events).toHaveLength(1);
  });

  it("when the balance is too low, then FAILED_PRECONDITION INSUFFICIENT_FUNDS and nothing changes", async () => {
    const payer = await openCustomer();
    await fund(payer.account.id, "1000");
    const payee = await openCustomer();
    const err = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, payee.account.id, { amount: { amountMinor: "1001", currency: "EUR" }, pin: TEST_PIN }), {
      token: payer.token,
    });
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(err)?.reason).toBe("INSUFFICIENT_FUNDS");
    expect(await balanceOf(payer.account.id)).toBe("1000");
    expect(await balanceOf(payee.account.id)).toBe("0");
  });

  it("when the accounts hold different currencies, then CURRENCY_MISMATCH; a wrong amount currency names amount.currency", async () => {
    const customerId = uniqueId("cus");
    const eur = await openCustomer(customerId);
    await fund(eur.account.id, "1000");
    const { account: usd } = await unaryCall(client.openAccount.bind(client), buildOpenCustomerAccount(customerId, { currency: "USD" }), { token: eur.token });
    const mismatch = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(eur.account.id, usd!.id, { pin: TEST_PIN }), { token: eur.token });
    expect(mismatch.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(mismatch)?.reason).toBe("CURRENCY_MISMATCH");

    const payee = await openCustomer();
    const wrong = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(eur.account.id, payee.account.id, { amount: { amountMinor: "5", currency: "USD" }, pin: TEST_PIN }), {
      token: eur.token,
    });
    expect(wrong.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(wrong)?.field).toBe("amount.currency");
  });

  it("when someone else's account is the source, then PERMISSION_DENIED and nothing moves", async () => {
    const victim = await openCustomer();
    await fund(victim.account.id, "5000");
    const thief = await openCustomer();
    const err = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(victim.account.id, thief.account.id, { pin: TEST_PIN }), { token: thief.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(await balanceOf(victim.account.id)).toBe("5000");
  });

  it("when a customer's wallet is debited without its PIN, or by a service even with the PIN, then nothing moves", async () => {
    const payer = await openCustomer();
    await fund(payer.account.id, "5000");
    const payee = await openCustomer();
    const noPin = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, payee.account.id), { token: payer.token });
    expect(errorDetail(noPin)?.field).toBe("pin");
    const wrong = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, payee.account.id, { pin: "000000" }), { token: payer.token });
    expect(errorDetail(wrong)?.reason).toBe("WRONG_PIN");
    const byService = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, payee.account.id, { pin: TEST_PIN }), { token: service });
    expect(byService.code).toBe(status.PERMISSION_DENIED);
    expect(await balanceOf(payer.account.id)).toBe("5000");
  });

  it("when there is no token, then UNAUTHENTICATED", async () => {
    const err = await expectFailure(client.postTransfer.bind(client), buildPostTransfer("a", "b"));
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("when the input is bad, then INVALID_ARGUMENT names the field without SQL text", async () => {
    const payer = await openCustomer();
    const cases: [Partial<Parameters<typeof buildPostTransfer>[2]>, string][] = [
      [{ idempotencyKey: "" }, "idempotency_key"],
      [{ amount: { amountMinor: "0", currency: "EUR" } }, "amount.amount_minor"],
      [{ amount: { amountMinor: "10", currency: "eur" } }, "amount.currency"],
      [{ toAccountId: payer.account.id }, "to_account_id"],
      [{ note: "n".repeat(281) }, "note"],
    ];
    for (const [overrides, field] of cases) {
      const err = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, "00000000-0000-4000-8000-000000000001", { pin: TEST_PIN, ...overrides }), { token: payer.token });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
      expect(err.details).not.toMatch(/select|insert|ledger_/i);
    }
    const missing = await expectFailure(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, "00000000-0000-4000-8000-000000000001", { pin: TEST_PIN }), { token: payer.token });
    expect(missing.code).toBe(status.NOT_FOUND);
  });

  it("when many transfers race for one balance, then exactly as many succeed as it covers and it never goes negative", async () => {
    const payer = await openCustomer();
    await fund(payer.account.id, "10000");
    const payees = await Promise.all(Array.from({ length: 4 }, () => openCustomer()));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        unaryCall(client.postTransfer.bind(client), buildPostTransfer(payer.account.id, payees[i % 4]!.account.id, { amount: { amountMinor: "1000", currency: "EUR" }, pin: TEST_PIN }), {
          token: payer.token,
        }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(10);
    for (const r of results) if (r.status === "rejected") expect(errorDetail(r.reason)?.reason).toBe("INSUFFICIENT_FUNDS");
    expect(await balanceOf(payer.account.id)).toBe("0");
    const received = await Promise.all(payees.map((p) => balanceOf(p.account.id)));
    expect(received.reduce((sum, b) => sum + BigInt(b), 0n)).toBe(10000n);
  });
});

describe("ledger invariants in the database", () => {
  it("when anything tries to overdraw a non-negative account, unbalance a transfer or edit an entry, then PostgreSQL refuses", async () => {
    const db = app.runtime.db;
    const { account } = await openCustomer();
    await expect(db.updateTable("ledger_account").set({ balance_minor: "-1" }).where("id", "=", account.id).execute()).rejects.toMatchObject({
      code: "23514",
      constraint: "ledger_account_balance_check",
    });

    const settlement = await openSettlement();
    await expect(
      db.transaction().execute(async (trx) => {
        const id = "00000000-0000-4000-8000-0000000000aa";
        await trx
          .insertInto("ledger_transfer")
          .values({ id, caller: "test", idempotency_key: "unbalanced", from_account_id: settlement.id, to_account_id: account.id, amount_minor: "5", currency: "EUR" })
          .execute();
        await trx.insertInto("ledger_entry").values({ transfer_id: id, account_id: account.id, amount_minor: "5", currency: "EUR", balance_after_minor: "5" }).execute();
      }),
    ).rejects.toThrow(/does not balance/);

    await fund(account.id, "100");
    await expect(sql`UPDATE ledger_entry SET amount_minor = 1 WHERE account_id = ${account.id}`.execute(db)).rejects.toThrow(/append-only/);

    const totals = await db.selectFrom("ledger_account").select((eb) => eb.fn.sum<string>("balance_minor").as("total")).where("currency", "=", "EUR").executeTakeFirstOrThrow();
    expect(totals.total).toBe("0");
  });
});
