import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BankOperationState, PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { PayoutSettled, TransferCompleted } from "@kontor/proto/payments/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { killServiceProcess, killServiceProcesses, startServiceProcess } from "@kontor/testkit/process";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { clearingOwner } from "../src/domain/ledger-service.js";
import { subjects } from "../src/events/subjects.js";
import { ibanOf, TEST_PIN, testEnv, uniqueId } from "./factories.js";

// The real service in its own process (the benchmark's entry point), so it can be killed with SIGKILL.
const SERVER = fileURLToPath(new URL("../bench/server.ts", import.meta.url));

let env: TestEnv;
let observer: PaymentsApp;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  killServiceProcesses();
  await observer?.stop().catch(() => undefined);
  await env?.cleanup();
});

/**
 * A bank that answers after 30 s (the payout must still wait on it when the service is killed,
 * after 20 transfers: seconds on a quiet host, more on a slow one), and a service that asks it
 * again after 1 s without an answer.
 */
const serviceEnv = () => testEnv(env, { BANK_SANDBOX_LATENCY_MS: "30000", BANK_ASK_AGAIN_AFTER_MS: "1000", SWEEP_INTERVAL_MS: "300", PIN_VERIFIED_TTL_MS: "600000" });

const startService = () => startServiceProcess(SERVER, [], serviceEnv());

describe("a crash", () => {
  it("when the service is killed (SIGKILL) while transfers commit and publish and a payout waits on the bank, and restarted, then no money is created or lost and each event is published once", async () => {
    let service = await startService();
    let client = clientFor(PaymentsServiceClient, service.port);
    // The same database, not started: for seeding through the ledger and reading what the service wrote.
    observer = await createPayments(loadConfig(testEnv(env)));
    const { ledger } = observer.services;
    const clearing = await ledger.ensureAccount(clearingOwner("test"), "bank_clearing", "EUR");
    const fund = async (owner: { kind: "customer" | "business"; id: string }, amount: bigint) => {
      const wallet = await ledger.ensureAccount(owner, owner.kind === "customer" ? "customer_wallet" : "business_wallet", "EUR");
      await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: wallet.id, amount: { amountMinor: amount, currency: "EUR" }, note: "" }, "topup");
      return wallet;
    };

    const customers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const id = uniqueId("cus");
        const token = await env.token({ kind: "customer", customerId: id });
        await unaryCall(client.setPaymentPin.bind(client), { customerId: id, newPin: TEST_PIN, currentPin: "" }, { token });
        await fund({ kind: "customer", id }, 10_000n);
        return { id, token };
      }),
    );
    const businessId = uniqueId("biz");
    const bizToken = await env.token({ kind: "business", businessId });
    const bizWallet = await fund({ kind: "business", id: businessId }, 5_000n);
    const bank = (await unaryCall(client.linkBankAccount.bind(client), { owner: { owner: { $case: "businessId", value: businessId } }, currency: "EUR", number: { $case: "iban", value: ibanOf("DE", "370400440532013000") }, holderName: "Shop" }, { token: bizToken })).bankAccount!;
    const payout = (await unaryCall(client.payout.bind(client), { idempotencyKey: uniqueId("po"), accountId: bizWallet.id, bankAccountId: bank.id, amount: { amountMinor: "3000", currency: "EUR" }, pin: "" }, { token: bizToken })).operation!;
    expect(payout.state).toBe(BankOperationState.BANK_OPERATION_STATE_PENDING);

    // Each customer pays the next one 40 times; a call that fails (the service is gone) is retried with its key until it answers.
    const PER_CUSTOMER = 25;
    const answers = new Map<string, string>();
    const loops = customers.map(async (from, i) => {
      const to = customers[(i + 1) % customers.length]!;
      for (let n = 0; n < PER_CUSTOMER; n++) {
        const request = { idempotencyKey: `crash:${from.id}:${n}`, fromCustomerId: from.id, toCustomerId: to.id, toNumber: "", amount: { amountMinor: String(1 + n), currency: "EUR" }, note: "", pin: TEST_PIN };
        const res = await waitFor(() => unaryCall(client.sendMoney.bind(client), request, { token: from.token, timeoutMs: 5000 }).catch(() => undefined), 300_000, 50);
        answers.set(request.idempotencyKey, res.transfer!.id);
      }
    });

    const db = observer.runtime.db;
    const p2pCount = async () => Number((await db.selectFrom("ledger_transfer").select((eb) => eb.fn.countAll<string>().as("n")).where("reason", "=", "p2p").executeTakeFirstOrThrow()).n);
    await waitFor(async () => ((await p2pCount()) >= 20 ? true : undefined), 300_000);
    await killServiceProcess(service.child);
    expect((await db.selectFrom("bank_operation").select("state").where("id", "=", payout.id).executeTakeFirstOrThrow()).state).toBe("pending");

    service = await startService();
    client.close();
    client = clientFor(PaymentsServiceClient, service.port);
    await Promise.all(loops);
    await waitFor(async () => ((await db.selectFrom("bank_operation").select("state").where("id", "=", payout.id).executeTakeFirstOrThrow()).state !== "pending" ? true : undefined), 300_000);
    await outboxDrained(observer.runtime.database.pool);

    // Every send happened once, and a retry got the original.
    const transfers = await db.selectFrom("ledger_transfer").select(["id", "idempotency_key"]).where("reason", "=", "p2p").execute();
    expect(transfers).toHaveLength(customers.length * PER_CUSTOMER);
    for (const t of transfers) expect(answers.get(t.idempotency_key)).toBe(t.id);

    // No money created or lost: the currency sums to zero, the journal replays to every balance and reservation.
    const total = await db.selectFrom("ledger_account").select((eb) => eb.fn.sum<string>("balance_minor").as("s")).where("currency", "=", "EUR").executeTakeFirstOrThrow();
    expect(total.s).toBe("0");
    const drift = await sql<{ id: string }>`SELECT a.id FROM ledger_account a
      LEFT JOIN (SELECT account_id, sum(amount_minor) AS s FROM ledger_entry GROUP BY account_id) e ON e.account_id = a.id
      LEFT JOIN (SELECT from_account_id, sum(amount_minor) AS p FROM ledger_transfer WHERE state = 'pending' GROUP BY from_account_id) r ON r.from_account_id = a.id
      WHERE coalesce(e.s, 0) <> a.balance_minor OR coalesce(r.p, 0) <> a.pending_debits_minor`.execute(db);
    expect(drift.rows).toEqual([]);
    for (const c of customers) expect((await ledger.findWallet({ kind: "customer", id: c.id }, "EUR"))?.balanceMinor).toBe(10_000n);
    expect(await observer.services.ledger.getAccount(bizWallet.id)).toMatchObject({ balanceMinor: 2_000n, pendingDebitsMinor: 0n });

    // Each event once in the stream, whatever the relay had published before the kill.
    const completed = (await streamMessages(env, "payments", subjects.transferCompleted)).map((m) => TransferCompleted.decode(m.data)).filter((e) => e.kind === "p2p");
    const perTransfer = new Map<string, number>();
    for (const e of completed) perTransfer.set(e.transferId, (perTransfer.get(e.transferId) ?? 0) + 1);
    expect([...perTransfer.keys()].sort()).toEqual(transfers.map((t) => t.id).sort());
    expect([...perTransfer.values()].every((n) => n === 1)).toBe(true);
    const settled = (await streamMessages(env, "payments", subjects.payoutSettled)).map((m) => PayoutSettled.decode(m.data)).filter((e) => e.payoutId === payout.id);
    expect(settled).toHaveLength(1);

    client.close();
    const stopped = new Promise((resolve) => service.child.once("exit", resolve));
    service.child.kill("SIGTERM");
    await stopped;
  }, 900_000);
});
