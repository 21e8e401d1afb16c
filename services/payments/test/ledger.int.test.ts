import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { sql } from "kysely";
import { PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import type { LedgerAccount } from "../src/domain/ledger-account.js";
import { clearingOwner } from "../src/domain/ledger-service.js";
import { LedgerBatch } from "../src/domain/ledger-engine.js";
import { testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let client: PaymentsServiceClient;
let clock = new Date("2026-12-01T10:00:00Z");

beforeAll(async () => {
  env = await createTestEnv();
  app = await createPayments(loadConfig(testEnv(env)), { now: () => clock });
  const { port } = await app.start();
  client = clientFor(PaymentsServiceClient, port);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const statementOf = (accountId: string) => ({ accountId, from: undefined, to: undefined, page: undefined });
const eur = (amountMinor: bigint) => ({ amountMinor, currency: "EUR" });

/** A customer wallet funded from a bank clearing account (the only kind that may go negative). */
async function funded(amount: bigint, customerId = uniqueId("cus")): Promise<LedgerAccount> {
  const { ledger } = app.services;
  const wallet = await ledger.ensureAccount({ kind: "customer", id: customerId }, "customer_wallet", "EUR");
  const clearing = await ledger.ensureAccount(clearingOwner("test"), "bank_clearing", "EUR");
  if (amount > 0n) await ledger.postTransfer("test", { idempotencyKey: uniqueId("fund"), fromAccountId: clearing.id, toAccountId: wallet.id, amount: eur(amount), note: "" }, "topup");
  return ledger.getAccount(wallet.id);
}

describe("account kinds", () => {
  it("when the service opens its own accounts, then only bank clearing may go negative", async () => {
    const { ledger } = app.services;
    const clearing = await ledger.ensureAccount(clearingOwner("kinds"), "bank_clearing", "EUR");
    const fees = await ledger.ensureAccount({ kind: "system", id: "platform_fee_revenue" }, "platform_fee_revenue", "EUR");
    const wallet = await ledger.ensureAccount({ kind: "business", id: uniqueId("biz") }, "business_wallet", "EUR");
    expect([clearing.allowNegativeBalance, fees.allowNegativeBalance, wallet.allowNegativeBalance]).toEqual([true, false, false]);
    expect((await ledger.ensureAccount(clearingOwner("kinds"), "bank_clearing", "EUR")).id).toBe(clearing.id);
    await expect(ledger.postTransfer("test", { idempotencyKey: uniqueId("k"), fromAccountId: fees.id, toAccountId: wallet.id, amount: eur(1n), note: "" })).rejects.toMatchObject({ reason: "INSUFFICIENT_FUNDS" });
  });
});

describe("pending transfers", () => {
  it("when a transfer is reserved, then the amount is held (not spendable) until posted, and posting moves it once", async () => {
    const { ledger } = app.services;
    const from = await funded(1000n);
    const to = await funded(0n);
    const pending = await ledger.reserve({ caller: "test", idempotencyKey: uniqueId("p"), fromAccountId: from.id, toAccountId: to.id, amount: eur(700n), note: "", reason: "payout", reference: "", pendingUntil: new Date(clock.getTime() + 60_000) });
    expect(pending.state).toBe("pending");
    expect(await ledger.getAccount(from.id)).toMatchObject({ balanceMinor: 1000n, pendingDebitsMinor: 700n });
    await expect(ledger.postTransfer("test", { idempotencyKey: uniqueId("k"), fromAccountId: from.id, toAccountId: to.id, amount: eur(301n), note: "" })).rejects.toMatchObject({ reason: "INSUFFICIENT_FUNDS" });

    expect((await ledger.postPending(pending.id)).state).toBe("posted");
    expect((await ledger.postPending(pending.id)).state).toBe("posted");
    expect(await ledger.getAccount(from.id)).toMatchObject({ balanceMinor: 300n, pendingDebitsMinor: 0n });
    expect((await ledger.getAccount(to.id)).balanceMinor).toBe(700n);
    await expect(ledger.voidPending(pending.id)).rejects.toMatchObject({ reason: "PENDING_POSTED" });
  });

  it("when a reservation is voided, then the money is available again and nothing was posted", async () => {
    const { ledger } = app.services;
    const from = await funded(500n);
    const to = await funded(0n);
    const pending = await ledger.reserve({ caller: "test", idempotencyKey: uniqueId("p"), fromAccountId: from.id, toAccountId: to.id, amount: eur(500n), note: "", reason: "payout", reference: "", pendingUntil: new Date(clock.getTime() + 60_000) });
    await ledger.voidPending(pending.id);
    expect(await ledger.getAccount(from.id)).toMatchObject({ balanceMinor: 500n, pendingDebitsMinor: 0n });
    await expect(ledger.postPending(pending.id)).rejects.toMatchObject({ reason: "PENDING_VOIDED" });
    expect((await app.runtime.db.selectFrom("ledger_entry").select("id").where("transfer_id", "=", pending.id).execute()).length).toBe(0);
  });

  it("when the timeout passes, then the sweep voids the reservation and a late post is refused", async () => {
    const { ledger } = app.services;
    const from = await funded(500n);
    const to = await funded(0n);
    const pending = await ledger.reserve({ caller: "test", idempotencyKey: uniqueId("p"), fromAccountId: from.id, toAccountId: to.id, amount: eur(200n), note: "", reason: "payout", reference: "", pendingUntil: new Date(clock.getTime() + 60_000) });
    const late = await ledger.reserve({ caller: "test", idempotencyKey: uniqueId("p"), fromAccountId: from.id, toAccountId: to.id, amount: eur(100n), note: "", reason: "payout", reference: "", pendingUntil: new Date(clock.getTime() + 60_000) });
    clock = new Date(clock.getTime() + 61_000);
    await expect(ledger.postPending(late.id)).rejects.toMatchObject({ reason: "PENDING_EXPIRED" });
    expect(await ledger.expirePending()).toBeGreaterThanOrEqual(1);
    expect((await app.runtime.db.selectFrom("ledger_transfer").select("state").where("id", "in", [pending.id, late.id]).execute()).map((r) => r.state)).toEqual(["voided", "voided"]);
    expect(await ledger.getAccount(from.id)).toMatchObject({ balanceMinor: 500n, pendingDebitsMinor: 0n });
  });
});

describe("group commit", () => {
  it("when many transfers arrive at once, then they share commits, each succeeds or fails on its own, and a hot account gets every credit", async () => {
    const { ledger } = app.services;
    const shop = await ledger.ensureAccount({ kind: "business", id: uniqueId("biz") }, "business_wallet", "EUR");
    const payers = await Promise.all(Array.from({ length: 40 }, (_, i) => funded(i % 4 === 0 ? 50n : 100n)));
    const results = await Promise.allSettled(
      payers.map((p) => ledger.postTransfer("test", { idempotencyKey: uniqueId("hot"), fromAccountId: p.id, toAccountId: shop.id, amount: eur(100n), note: "" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(30);
    for (const r of results) if (r.status === "rejected") expect((r.reason as { reason: string }).reason).toBe("INSUFFICIENT_FUNDS");
    expect((await ledger.getAccount(shop.id)).balanceMinor).toBe(3000n);
    const entries = await app.runtime.db.selectFrom("ledger_entry").select(["balance_after_minor"]).where("account_id", "=", shop.id).orderBy("id").execute();
    expect(entries.map((e) => e.balance_after_minor)).toEqual(Array.from({ length: 30 }, (_, i) => String((i + 1) * 100)));
  });

  it("when a batch repeats a key, then the second is a replay of the first and only one moves money", async () => {
    const { ledger } = app.services;
    const from = await funded(1000n);
    const to = await funded(0n);
    const request = { idempotencyKey: uniqueId("dup"), fromAccountId: from.id, toAccountId: to.id, amount: eur(100n), note: "" };
    const [a, b] = await Promise.all([ledger.postTransfer("test", request), ledger.postTransfer("test", request)]);
    expect(a.transfer.id).toBe(b.transfer.id);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    await expect(ledger.postTransfer("test", { ...request, amount: eur(101n) })).rejects.toMatchObject({ reason: "IDEMPOTENCY_KEY_REUSED" });
    expect((await ledger.getAccount(from.id)).balanceMinor).toBe(900n);
  });
});

describe("a failing batch", () => {
  it("when a batch's transaction fails, then its jobs run again one transaction each and the others still commit", async () => {
    const { ledger } = app.services;
    const a = await funded(1000n);
    const b = await funded(0n);
    let attempts = 0;
    // A first job holds the commit until both of the next are queued, so they share one batch.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const first = ledger.batcher.run<string>({ accounts: [], keys: [], claim: () => gate, decide: () => undefined, finish: async () => ({ value: "first", events: [] }) });
    const broken = ledger.batcher.run<string>({
      accounts: [a.id],
      keys: [],
      decide: () => undefined,
      async finish() {
        attempts += 1;
        throw new Error("lost connection");
      },
    });
    const fine = ledger.batcher.submit({ caller: "test", idempotencyKey: uniqueId("ok"), fromAccountId: a.id, toAccountId: b.id, amount: eur(300n), note: "", reason: "transfer", reference: "" });
    open();
    expect(await first).toBe("first");
    await expect(broken).rejects.toThrow("lost connection");
    expect((await fine).replayed).toBe(false);
    expect(attempts).toBe(2);
    expect((await ledger.getAccount(b.id)).balanceMinor).toBe(300n);
  });
});

describe("linked transfers", () => {
  it("when one of a linked set is refused, then none of them is written and the balances are as before", async () => {
    const { ledger } = app.services;
    const a = await funded(1000n);
    const b = await funded(0n);
    const c = await funded(0n);
    const written = await app.runtime.db.transaction().execute(async (trx) => {
      const batch = await LedgerBatch.open(trx, [a.id, b.id, c.id], []);
      const linked = batch.applyLinked([
        { caller: "test", idempotencyKey: uniqueId("l"), fromAccountId: a.id, toAccountId: b.id, amount: eur(600n), note: "", reason: "transfer", reference: "" },
        { caller: "test", idempotencyKey: uniqueId("l"), fromAccountId: a.id, toAccountId: c.id, amount: eur(600n), note: "", reason: "transfer", reference: "" },
      ]);
      const alone = batch.apply({ caller: "test", idempotencyKey: uniqueId("l"), fromAccountId: a.id, toAccountId: c.id, amount: eur(100n), note: "", reason: "transfer", reference: "" });
      await batch.flush(trx);
      return { linked: linked.map((o) => o.ok), alone: alone.ok };
    });
    expect(written).toEqual({ linked: [false, false], alone: true });
    expect([(await ledger.getAccount(a.id)).balanceMinor, (await ledger.getAccount(b.id)).balanceMinor, (await ledger.getAccount(c.id)).balanceMinor]).toEqual([900n, 0n, 100n]);
  });
});

describe("GetStatement", () => {
  it("when a period is asked, then opening + its entries = closing, and each entry says who and why", async () => {
    const customerId = uniqueId("cus");
    const token = await env.token({ kind: "customer", customerId });
    const wallet = await funded(1000n, customerId);
    const other = await funded(0n);
    const { ledger } = app.services;
    // The period's start is taken from PostgreSQL's clock, which stamps the entries.
    const mid = (await sql<{ t: Date }>`SELECT clock_timestamp() AS t`.execute(app.runtime.db)).rows[0]!.t;
    await ledger.postTransfer(`customer:${customerId}`, { idempotencyKey: uniqueId("s"), fromAccountId: wallet.id, toAccountId: other.id, amount: eur(250n), note: "lunch" }, "p2p");
    await ledger.postTransfer(`customer:${customerId}`, { idempotencyKey: uniqueId("s"), fromAccountId: wallet.id, toAccountId: other.id, amount: eur(50n), note: "coffee" }, "p2p");

    const all = await unaryCall(client.getStatement.bind(client), { accountId: wallet.id, from: undefined, to: undefined, page: { pageSize: 0, pageToken: "" } }, { token });
    expect(all.openingBalance).toEqual({ amountMinor: "0", currency: "EUR" });
    expect(all.closingBalance).toEqual({ amountMinor: "700", currency: "EUR" });
    expect(all.entries.map((e) => [e.amount?.amountMinor, e.reason, e.actor, e.note])).toEqual([
      ["1000", "topup", "test", ""],
      ["-250", "p2p", `customer:${customerId}`, "lunch"],
      ["-50", "p2p", `customer:${customerId}`, "coffee"],
    ]);
    expect(all.entries[1]?.counterpartyAccountId).toBe(other.id);

    const later = await unaryCall(client.getStatement.bind(client), { accountId: wallet.id, from: mid, to: undefined, page: { pageSize: 1, pageToken: "" } }, { token });
    expect(later.openingBalance?.amountMinor).toBe("1000");
    expect(later.closingBalance?.amountMinor).toBe("700");
    expect(later.entries).toHaveLength(1);
    const next = await unaryCall(client.getStatement.bind(client), { accountId: wallet.id, from: mid, to: undefined, page: { pageSize: 1, pageToken: later.page!.nextPageToken } }, { token });
    expect(next.entries.map((e) => e.amount?.amountMinor)).toEqual(["-50"]);
    expect(next.page?.nextPageToken).toBe("");
  });

  it("when a business reads another's statement, then PERMISSION_DENIED; a partner reads only its businesses'", async () => {
    const mine = uniqueId("biz");
    const theirs = uniqueId("biz");
    const { ledger } = app.services;
    const theirWallet = await ledger.ensureAccount({ kind: "business", id: theirs }, "business_wallet", "EUR");
    const myWallet = await ledger.ensureAccount({ kind: "business", id: mine }, "business_wallet", "EUR");
    const business = await env.token({ kind: "business", businessId: mine });
    const partner = await env.token({ kind: "partner", partnerId: "bsp_1", businessIds: [mine] });
    const ask = (accountId: string, token: string) => unaryCall(client.getStatement.bind(client), statementOf(accountId), { token });
    expect((await ask(myWallet.id, business)).closingBalance?.amountMinor).toBe("0");
    expect((await ask(myWallet.id, partner)).closingBalance?.amountMinor).toBe("0");
    expect((await expectFailure(client.getStatement.bind(client), statementOf(theirWallet.id), { token: business })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.getStatement.bind(client), statementOf(theirWallet.id), { token: partner })).code).toBe(status.PERMISSION_DENIED);
    const bad = await expectFailure(client.getStatement.bind(client), { ...statementOf(myWallet.id), page: { pageSize: 0, pageToken: "nope" } }, { token: business });
    expect(errorDetail(bad)?.field).toBe("page.page_token");
  });
});

describe("journal replay", () => {
  it("when every entry is summed per account, then it gives the stored balance, and every currency sums to zero", async () => {
    const db = app.runtime.db;
    const mismatched = await db
      .selectFrom("ledger_account as a")
      .leftJoin("ledger_entry as e", "e.account_id", "a.id")
      .select(["a.id", "a.balance_minor"])
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>("e.amount_minor"), eb.val("0")).as("replayed"))
      .groupBy(["a.id", "a.balance_minor"])
      .having((eb) => eb(eb.fn.coalesce(eb.fn.sum("e.amount_minor"), eb.val(0)), "<>", eb.ref("a.balance_minor")))
      .execute();
    expect(mismatched).toEqual([]);
    const sums = await db.selectFrom("ledger_account").select(["currency"]).select((eb) => eb.fn.sum<string>("balance_minor").as("total")).groupBy("currency").execute();
    for (const s of sums) expect(s.total).toBe("0");
  });
});
