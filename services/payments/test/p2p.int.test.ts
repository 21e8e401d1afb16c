import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { CollectRequestState, PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { TransferCompleted } from "@kontor/proto/payments/v1/events";
import { createLogger } from "@kontor/service-kit/log";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createPayments, type PaymentsApp } from "../src/app.js";
import { clearingOwner } from "../src/domain/ledger-service.js";
import { subjects } from "../src/events/subjects.js";
import { TEST_PIN, testEnv, uniqueId } from "./factories.js";

let env: TestEnv;
let app: PaymentsApp;
let client: PaymentsServiceClient;
let clock = new Date("2026-12-01T10:00:00Z");
const logLines: string[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  // Everything the service logs, at every level, to check no PIN ever appears.
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  app = await createPayments(loadConfig(testEnv(env, { PIN_COOLING_OFF_MS: "900000", COLLECT_TTL_MS: "60000" })), { now: () => clock, log: createLogger("payments", "trace", sink) });
  const { port } = await app.start();
  client = clientFor(PaymentsServiceClient, port);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const eur = (amountMinor: string) => ({ amountMinor, currency: "EUR" });

async function customer(opening = 0n, pin = TEST_PIN): Promise<{ id: string; token: string }> {
  const id = uniqueId("cus");
  const token = await env.token({ kind: "customer", customerId: id });
  await unaryCall(client.setPaymentPin.bind(client), { customerId: id, newPin: pin, currentPin: "" }, { token });
  if (opening > 0n) {
    const { ledger } = app.services;
    const wallet = await ledger.ensureAccount({ kind: "customer", id }, "customer_wallet", "EUR");
    const clearing = await ledger.ensureAccount(clearingOwner("test"), "bank_clearing", "EUR");
    await ledger.postTransfer("test", { idempotencyKey: uniqueId("f"), fromAccountId: clearing.id, toAccountId: wallet.id, amount: { amountMinor: opening, currency: "EUR" }, note: "" }, "topup");
  }
  return { id, token };
}

async function balance(customerId: string): Promise<bigint> {
  return (await app.services.ledger.findWallet({ kind: "customer", id: customerId }, "EUR"))?.balanceMinor ?? 0n;
}

function send(from: { id: string; token: string }, to: string, amount: string, extra: { pin?: string; idempotencyKey?: string; note?: string } = {}) {
  return { request: { idempotencyKey: extra.idempotencyKey ?? uniqueId("send"), fromCustomerId: from.id, toCustomerId: to, amount: eur(amount), note: extra.note ?? "pizza", pin: extra.pin ?? TEST_PIN, toNumber: "" }, options: { token: from.token } };
}

describe("SendMoney", () => {
  it("when a customer pays a contact with the PIN, then debit and credit commit together and transfer.completed (p2p) reaches NATS once", async () => {
    const ada = await customer(5000n);
    const bob = await customer();
    const { request, options } = send(ada, bob.id, "1250", { note: "pizza 🍕" });
    const res = await unaryCall(client.sendMoney.bind(client), request, options);
    expect(res.replayed).toBe(false);
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([3750n, 1250n]);
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.transferCompleted)).map((m) => TransferCompleted.decode(m.data)).filter((e) => e.transferId === res.transfer!.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "p2p", note: "pizza 🍕", amount: eur("1250"), fromOwner: { owner: { $case: "customerId", value: ada.id } }, toOwner: { owner: { $case: "customerId", value: bob.id } } });
  });

  it("when the same send is retried with its key, then the original is returned and money moves once; another body is FAILED_PRECONDITION", async () => {
    const ada = await customer(5000n);
    const bob = await customer();
    const { request, options } = send(ada, bob.id, "1000");
    const first = await unaryCall(client.sendMoney.bind(client), request, options);
    const again = await unaryCall(client.sendMoney.bind(client), request, options);
    expect(again).toMatchObject({ replayed: true, transfer: { id: first.transfer!.id } });
    const changed = await expectFailure(client.sendMoney.bind(client), { ...request, note: "other" }, options);
    expect(changed.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(changed)?.reason).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await balance(ada.id)).toBe(4000n);
  });

  it("when the wallet cannot cover it, then INSUFFICIENT_FUNDS and nothing moves", async () => {
    const ada = await customer(100n);
    const bob = await customer();
    const { request, options } = send(ada, bob.id, "101");
    expect(errorDetail(await expectFailure(client.sendMoney.bind(client), request, options))?.reason).toBe("INSUFFICIENT_FUNDS");
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([100n, 0n]);
  });

  it("when someone else sends from a customer's wallet, then PERMISSION_DENIED, even with the right PIN", async () => {
    const victim = await customer(1000n);
    const thief = await customer();
    const { request } = send(victim, thief.id, "500");
    expect((await expectFailure(client.sendMoney.bind(client), request, { token: thief.token })).code).toBe(status.PERMISSION_DENIED);
    const ads = await env.token({ kind: "service", service: "ads" });
    expect((await expectFailure(client.sendMoney.bind(client), request, { token: ads })).code).toBe(status.PERMISSION_DENIED);
    expect(await balance(victim.id)).toBe(1000n);
  });
});

describe("the payment PIN", () => {
  it("when five wrong PINs are entered, then payments lock (even with the right PIN) until the cooling-off period passes", async () => {
    const ada = await customer(5000n);
    const bob = await customer();
    // A payment with the right PIN first: a PIN recently verified must not get past the lock either.
    const warm = send(ada, bob.id, "10");
    await unaryCall(client.sendMoney.bind(client), warm.request, warm.options);
    for (let i = 1; i <= 4; i++) {
      const { request, options } = send(ada, bob.id, "10", { pin: "000000" });
      expect(errorDetail(await expectFailure(client.sendMoney.bind(client), request, options))).toMatchObject({ reason: "WRONG_PIN", field: "pin" });
    }
    const fifth = send(ada, bob.id, "10", { pin: "000000" });
    expect(errorDetail(await expectFailure(client.sendMoney.bind(client), fifth.request, fifth.options))?.reason).toBe("PAYMENTS_LOCKED");
    const right = send(ada, bob.id, "10");
    expect(errorDetail(await expectFailure(client.sendMoney.bind(client), right.request, right.options))?.reason).toBe("PAYMENTS_LOCKED");
    expect(await balance(ada.id)).toBe(4990n);

    clock = new Date(clock.getTime() + 900_001);
    await unaryCall(client.sendMoney.bind(client), right.request, right.options);
    expect(await balance(ada.id)).toBe(4980n);
    // The count started again: four more wrong ones do not lock.
    for (let i = 0; i < 4; i++) {
      const { request, options } = send(ada, bob.id, "10", { pin: "111111" });
      expect(errorDetail(await expectFailure(client.sendMoney.bind(client), request, options))?.reason).toBe("WRONG_PIN");
    }
  });

  it("when a PIN is changed, then the current one is needed; without a PIN nothing can be paid", async () => {
    const ada = await customer(1000n);
    const missing = await expectFailure(client.setPaymentPin.bind(client), { customerId: ada.id, newPin: "1111", currentPin: "" }, { token: ada.token });
    expect(errorDetail(missing)).toMatchObject({ reason: "PIN_REQUIRED", field: "current_pin" });
    const wrong = await expectFailure(client.setPaymentPin.bind(client), { customerId: ada.id, newPin: "1111", currentPin: "9999" }, { token: ada.token });
    expect(errorDetail(wrong)).toMatchObject({ reason: "WRONG_PIN", field: "current_pin" });
    await unaryCall(client.setPaymentPin.bind(client), { customerId: ada.id, newPin: "1111", currentPin: TEST_PIN }, { token: ada.token });
    const bob = await customer();
    const old = send(ada, bob.id, "5");
    expect(errorDetail(await expectFailure(client.sendMoney.bind(client), old.request, old.options))?.reason).toBe("WRONG_PIN");
    const fresh = send(ada, bob.id, "5", { pin: "1111" });
    await unaryCall(client.sendMoney.bind(client), fresh.request, fresh.options);

    const nobody = uniqueId("cus");
    const token = await env.token({ kind: "customer", customerId: nobody });
    const unset = await expectFailure(client.sendMoney.bind(client), { ...fresh.request, fromCustomerId: nobody, idempotencyKey: uniqueId("k") }, { token });
    expect(errorDetail(unset)?.reason).toBe("PIN_NOT_SET");
  });

  it("when PINs are set, tried and changed, then no PIN appears in a log line, a response or the database", async () => {
    const pin = "730519";
    const ada = await customer(100n, pin);
    const bob = await customer();
    const wrong = send(ada, bob.id, "1", { pin: "730518" });
    const err = await expectFailure(client.sendMoney.bind(client), wrong.request, wrong.options);
    const ok = send(ada, bob.id, "1", { pin });
    const res = await unaryCall(client.sendMoney.bind(client), ok.request, ok.options);
    expect(JSON.stringify(res)).not.toContain(pin);
    expect(`${err.message} ${err.details}`).not.toContain("730518");
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.filter((l) => l.includes(pin) || l.includes("730518"))).toEqual([]);
    const row = await app.runtime.db.selectFrom("payment_pin").selectAll().where("customer_id", "=", ada.id).executeTakeFirstOrThrow();
    expect(row.hash.toString("latin1")).not.toContain(pin);
    expect(JSON.stringify(row)).not.toContain(pin);
  });
});

describe("collect requests", () => {
  it("when the payer approves with the PIN, then the requester is paid in the same commit and transfer.completed (collect) is published", async () => {
    const ada = await customer();
    const bob = await customer(3000n);
    const asked = await unaryCall(client.requestMoney.bind(client), { idempotencyKey: uniqueId("rq"), requesterCustomerId: ada.id, payerCustomerId: bob.id, amount: eur("1200"), note: "tickets", expiresInSeconds: 0 }, { token: ada.token });
    expect(asked.request?.state).toBe(CollectRequestState.COLLECT_REQUEST_STATE_PENDING);
    const read = await unaryCall(client.getCollectRequest.bind(client), { collectRequestId: asked.request!.id }, { token: bob.token });
    expect(read.request?.amount).toEqual(eur("1200"));

    const notPayer = await expectFailure(client.respondToCollectRequest.bind(client), { idempotencyKey: uniqueId("r"), collectRequestId: asked.request!.id, approve: true, pin: TEST_PIN }, { token: ada.token });
    expect(notPayer.code).toBe(status.PERMISSION_DENIED);

    const wrongPin = await expectFailure(client.respondToCollectRequest.bind(client), { idempotencyKey: uniqueId("r"), collectRequestId: asked.request!.id, approve: true, pin: "000000" }, { token: bob.token });
    expect(errorDetail(wrongPin)?.reason).toBe("WRONG_PIN");
    expect(await balance(bob.id)).toBe(3000n);

    const approveReq = { idempotencyKey: uniqueId("r"), collectRequestId: asked.request!.id, approve: true, pin: TEST_PIN };
    const approved = await unaryCall(client.respondToCollectRequest.bind(client), approveReq, { token: bob.token });
    expect(approved.request?.state).toBe(CollectRequestState.COLLECT_REQUEST_STATE_APPROVED);
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([1200n, 1800n]);
    expect((await unaryCall(client.respondToCollectRequest.bind(client), approveReq, { token: bob.token })).replayed).toBe(true);
    const twice = await expectFailure(client.respondToCollectRequest.bind(client), { ...approveReq, idempotencyKey: uniqueId("r") }, { token: bob.token });
    expect(errorDetail(twice)?.reason).toBe("COLLECT_NOT_PENDING");
    expect(await balance(bob.id)).toBe(1800n);

    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.transferCompleted)).map((m) => TransferCompleted.decode(m.data)).filter((e) => e.collectRequestId === asked.request!.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: "collect", transferId: approved.request!.transferId });
  });

  it("when the payer declines, or the request expired, then nothing moves", async () => {
    const ada = await customer();
    const bob = await customer(3000n);
    const ask = async () =>
      (await unaryCall(client.requestMoney.bind(client), { idempotencyKey: uniqueId("rq"), requesterCustomerId: ada.id, payerCustomerId: bob.id, amount: eur("100"), note: "", expiresInSeconds: 60 }, { token: ada.token })).request!;
    const first = await ask();
    const declined = await unaryCall(client.respondToCollectRequest.bind(client), { idempotencyKey: uniqueId("r"), collectRequestId: first.id, approve: false, pin: "" }, { token: bob.token });
    expect(declined.request?.state).toBe(CollectRequestState.COLLECT_REQUEST_STATE_DECLINED);

    const second = await ask();
    clock = new Date(clock.getTime() + 60_001);
    const late = await expectFailure(client.respondToCollectRequest.bind(client), { idempotencyKey: uniqueId("r"), collectRequestId: second.id, approve: true, pin: TEST_PIN }, { token: bob.token });
    expect(errorDetail(late)?.reason).toBe("COLLECT_EXPIRED");
    expect((await unaryCall(client.getCollectRequest.bind(client), { collectRequestId: second.id }, { token: ada.token })).request?.state).toBe(CollectRequestState.COLLECT_REQUEST_STATE_EXPIRED);
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([0n, 3000n]);
    const stranger = await customer();
    expect((await expectFailure(client.getCollectRequest.bind(client), { collectRequestId: second.id }, { token: stranger.token })).code).toBe(status.PERMISSION_DENIED);
  });
});

describe("SendMoney to a phone number", () => {
  it("when the payee is given by a number onboarding set, then that customer is paid; the number moves to whoever it was set for last", async () => {
    const onboarding = await env.token({ kind: "service", service: "onboarding" });
    const ada = await customer(1000n);
    const bob = await customer();
    const carol = await customer();
    const number = `+49151${String(Date.now()).slice(-7)}`;
    await unaryCall(client.setPaymentNumber.bind(client), { customerId: bob.id, number }, { token: onboarding });
    const { request, options } = send(ada, "", "250");
    const paid = await unaryCall(client.sendMoney.bind(client), { ...request, toNumber: number }, options);
    expect(paid.transfer?.amount).toEqual(eur("250"));
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([750n, 250n]);

    await unaryCall(client.setPaymentNumber.bind(client), { customerId: carol.id, number }, { token: onboarding });
    const again = send(ada, "", "100");
    await unaryCall(client.sendMoney.bind(client), { ...again.request, toNumber: number }, again.options);
    expect([await balance(ada.id), await balance(bob.id), await balance(carol.id)]).toEqual([650n, 250n, 100n]);
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "payments", subjects.transferCompleted)).map((m) => TransferCompleted.decode(m.data)).filter((e) => e.transferId === paid.transfer!.id);
    expect(events).toHaveLength(1);
  });

  it("when the number belongs to nobody, is malformed, is the payer's own or comes with a customer id too, then it is refused naming to_number and nothing moves", async () => {
    const onboarding = await env.token({ kind: "service", service: "onboarding" });
    const ada = await customer(500n);
    const bob = await customer();
    const own = `+44770${String(Date.now()).slice(-7)}`;
    await unaryCall(client.setPaymentNumber.bind(client), { customerId: ada.id, number: own }, { token: onboarding });
    const attempt = (toNumber: string, toCustomerId = "") => {
      const { request, options } = send(ada, toCustomerId, "100");
      return expectFailure(client.sendMoney.bind(client), { ...request, toNumber }, options);
    };
    const nobody = await attempt("+15550000000");
    expect(nobody.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(nobody)).toMatchObject({ reason: "PAYEE_NOT_FOUND", field: "to_number" });
    for (const bad of [await attempt("0049151"), await attempt(own), await attempt(own, bob.id)]) {
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(bad)?.field).toBe("to_number");
    }
    expect([await balance(ada.id), await balance(bob.id)]).toEqual([500n, 0n]);
    // Only onboarding, which verified the number, may point it at a customer.
    expect((await expectFailure(client.setPaymentNumber.bind(client), { customerId: bob.id, number: own }, { token: bob.token })).code).toBe(status.PERMISSION_DENIED);
  });
});

describe("the collect request expiry sweep", () => {
  it("when requests pass their expiry and two replicas sweep at once, then each request is marked expired exactly once", async () => {
    const second = await createPayments(loadConfig(testEnv(env, { COLLECT_TTL_MS: "60000" })), { now: () => clock });
    try {
      const ada = await customer();
      const payers = await Promise.all(Array.from({ length: 12 }, () => customer()));
      const asked = await Promise.all(
        payers.map(async (p) => (await unaryCall(client.requestMoney.bind(client), { idempotencyKey: uniqueId("rq"), requesterCustomerId: ada.id, payerCustomerId: p.id, amount: eur("10"), note: "", expiresInSeconds: 30 }, { token: ada.token })).request!),
      );
      const kept = await unaryCall(client.requestMoney.bind(client), { idempotencyKey: uniqueId("rq"), requesterCustomerId: ada.id, payerCustomerId: payers[0]!.id, amount: eur("10"), note: "", expiresInSeconds: 3600 }, { token: ada.token });
      clock = new Date(clock.getTime() + 30_001);
      const db = app.runtime.db;
      const due = await db.selectFrom("collect_request").select((eb) => eb.fn.countAll<string>().as("n")).where("state", "=", "pending").where("expires_at", "<=", clock).executeTakeFirstOrThrow();
      // Small batches, so the two sweeps meet on the same rows.
      const sweepAll = async (replica: PaymentsApp) => {
        let total = 0;
        for (let n = await replica.services.p2p.expireRequests(3); n > 0; n = await replica.services.p2p.expireRequests(3)) total += n;
        return total;
      };
      const [a, b] = await Promise.all([sweepAll(app), sweepAll(second)]);
      expect(a + b).toBe(Number(due.n));
      const states = await db.selectFrom("collect_request").select(["id", "state"]).where("id", "in", [...asked.map((r) => r.id), kept.request!.id]).execute();
      expect(states.filter((r) => r.state === "expired").map((r) => r.id).sort()).toEqual(asked.map((r) => r.id).sort());
      expect(states.find((r) => r.id === kept.request!.id)?.state).toBe("pending");
      expect((await unaryCall(client.getCollectRequest.bind(client), { collectRequestId: asked[0]!.id }, { token: ada.token })).request?.state).toBe(CollectRequestState.COLLECT_REQUEST_STATE_EXPIRED);
    } finally {
      await second.stop();
    }
  });
});
