import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig, type Config } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { customer, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid, ROUTING_ONLY } from "./factories.js";

/*
 * Crypto-shredding across replicas: A and B share the database and NATS, as
 * two pods do. Each case uses its own business so the cases stay independent.
 */
let env: TestEnv;
let config: Readonly<Config>;
let a: MessagingApp;
let ca: MessagingServiceClient;
let service: string;
let operator: string;
const running: { app: MessagingApp; client: MessagingServiceClient }[] = [];

async function replica() {
  const app = await createMessaging(config);
  const client = clientFor(MessagingServiceClient, (await app.start()).port);
  const r = { app, client };
  running.push(r);
  return r;
}

async function stop(r: { app: MessagingApp; client: MessagingServiceClient }) {
  r.client.close();
  await r.app.stop();
  running.splice(running.indexOf(r), 1);
}

/** A business with one number, known to every running replica, and a customer. */
async function business() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  for (const r of running) await waitFor(() => r.app.directory.get(pn), 30_000);
  const customerId = uid("cust");
  await registerCustomer(ca, service, customerId);
  return {
    businessId,
    pn,
    customerId,
    token: await env.token({ kind: "business", businessId }),
    customerToken: await env.token({ kind: "customer", customerId }),
  };
}

type Biz = Awaited<ReturnType<typeof business>>;

async function send(client: MessagingServiceClient, biz: Biz, body: string) {
  const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number(biz.pn), customer(biz.customerId), text(body)), { token: biz.token });
  return result!.messageId;
}

async function read(client: MessagingServiceClient, biz: Biz, messageId: string) {
  const { message } = await unaryCall(client.getMessage.bind(client), { participant: customer(biz.customerId), messageId }, { token: biz.customerToken });
  return message!;
}

async function expectSendRefused(client: MessagingServiceClient, biz: Biz) {
  const err = await expectFailure(client.sendMessage.bind(client), sendReq(number(biz.pn), customer(biz.customerId), text("after erasure")), { token: biz.token });
  expect(err.code).toBe(status.FAILED_PRECONDITION);
  expect(errorDetail(err)?.reason).toBe("BUSINESS_KEY_ERASED");
}

async function activeKeys(businessId: string): Promise<number> {
  const r = await a.runtime.database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM business_key WHERE business_id = $1 AND erased_at IS NULL`, [businessId]);
  return Number(r.rows[0]!.n);
}

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" }));
  ({ app: a, client: ca } = await replica());
  service = await env.token({ kind: "service", service: "onboarding" });
  operator = await env.token({ kind: "staff", staffId: "op_keys", roles: ["operator"] });
});

afterAll(async () => {
  for (const r of [...running].reverse()) await stop(r).catch(() => undefined);
  await env?.cleanup();
});

// Each case starts and stops replicas (migrations, consumers, relays): on a loaded host that alone takes tens of seconds.
describe("erasing a business key with two replicas", { timeout: 90_000 }, () => {
  it("when a replica that holds the key is up, then the erasure event reaches it: it stops decrypting and refuses to seal", async () => {
    const b = await replica();
    const biz = await business();
    const id = await send(b.client, biz, "before erasure");
    expect((await read(b.client, biz, id)).content?.kind).toEqual({ $case: "text", value: { body: "before erasure", previewUrl: false } });

    const erased = await unaryCall(ca.eraseBusinessKey.bind(ca), { businessId: biz.businessId, reason: "the business closed its account" }, { token: operator });
    expect(Number(erased.shreddedMessages)).toBe(1);

    // B had the key in memory; only the event tells it (reads touch no key row once cached).
    await waitFor(async () => (await read(b.client, biz, id)).contentErased, 30_000);
    expect((await read(b.client, biz, id)).content).toBeUndefined();
    await expectSendRefused(b.client, biz);
    await expectSendRefused(ca, biz);
    expect(await activeKeys(biz.businessId)).toBe(0);
    await stop(b);
  });

  it("when a replica is down while the key is erased, then after it starts again it neither decrypts old messages nor seals new ones", async () => {
    const b = await replica();
    const biz = await business();
    const id = await send(b.client, biz, "sealed on b");
    expect((await read(b.client, biz, id)).contentErased).toBe(false);
    await stop(b);

    await unaryCall(ca.eraseBusinessKey.bind(ca), { businessId: biz.businessId, reason: "the business closed its account" }, { token: operator });

    const again = await replica();
    await waitFor(() => again.app.directory.get(biz.pn), 30_000);
    // Its new durable consumer replays the erasures the stream holds.
    const replayed = async () => {
      const m = await again.app.runtime.metrics.registry.getSingleMetric("kontor_consumer_handled_total")!.get();
      return m.values.filter((v) => String(v.labels.consumer).startsWith("messaging-key-erasure-") && v.labels.outcome === "ack").reduce((n, v) => n + v.value, 0);
    };
    // One event per business erased through the RPC so far (this case's among them).
    const erasedSoFar = await a.runtime.database.pool.query<{ n: string }>(`SELECT count(DISTINCT business_id) AS n FROM business_key WHERE erased_at IS NOT NULL`);
    await waitFor(async () => (await replayed()) >= Number(erasedSoFar.rows[0]!.n), 30_000);
    const m = await read(again.client, biz, id);
    expect(m.contentErased).toBe(true);
    expect(m.content).toBeUndefined();
    await expectSendRefused(again.client, biz);
    // No new key was made for the erased business.
    expect(await activeKeys(biz.businessId)).toBe(0);
    await stop(again);
  });

  it("when the key is destroyed before a replica that holds it hears of it, then its commit refuses the erased key and its other sends still commit", async () => {
    const b = await replica();
    const biz = await business();
    const other = await business();
    const id = await send(b.client, biz, "before");
    await send(b.client, other, "warm the other key");
    // The erasure's row change without its event yet (the window before B's consumer gets it).
    await a.runtime.database.pool.query(`UPDATE business_key SET wrapped_key = NULL, erased_at = now() WHERE business_id = $1`, [biz.businessId]);

    const [refused, accepted] = await Promise.allSettled([
      unaryCall(b.client.sendMessage.bind(b.client), sendReq(number(biz.pn), customer(biz.customerId), text("in the window")), { token: biz.token }),
      unaryCall(b.client.sendMessage.bind(b.client), sendReq(number(other.pn), customer(other.customerId), text("unrelated")), { token: other.token }),
    ]);
    expect(refused.status).toBe("rejected");
    const err = (refused as PromiseRejectedResult).reason as { code: number };
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(errorDetail(err as never)?.reason).toBe("BUSINESS_KEY_ERASED");
    expect(accepted.status).toBe("fulfilled");
    const stored = await a.runtime.database.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM message m JOIN business_key k ON k.key_id = m.key_id WHERE k.business_id = $1`,
      [biz.businessId],
    );
    expect(Number(stored.rows[0]!.n)).toBe(1); // only the message from before
    // The refused commit told B: it no longer decrypts with the key either.
    expect((await read(b.client, biz, id)).contentErased).toBe(true);
    await expectSendRefused(b.client, biz);
    await stop(b);

    // A replica that starts now has no event for it either: the key row refuses it, and no new key is made.
    const c = await replica();
    await waitFor(() => c.app.directory.get(biz.pn), 30_000);
    expect((await read(c.client, biz, id)).contentErased).toBe(true);
    await expectSendRefused(c.client, biz);
    expect(await activeKeys(biz.businessId)).toBe(0);
    await stop(c);
  });

  it("when a commit with the key is under way as the key is erased, then the erasure waits for it and shreds its rows too", async () => {
    const biz = await business();
    const id = await send(ca, biz, "first");
    const row = await a.runtime.database.pool.query<{ conversation_id: string; key_id: number; body: Buffer }>(`SELECT conversation_id, key_id, body FROM message WHERE id = $1`, [id]);
    const { conversation_id: conv, key_id: keyId, body } = row.rows[0]!;
    // A group commit of a replica that still holds the key: its insert has run (and passed the key check), its COMMIT has not.
    const inFlight = await a.runtime.database.pool.connect();
    try {
      await inFlight.query("BEGIN");
      await inFlight.query(
        `INSERT INTO message (conversation_id, seq, id, sender, recipient, rseq, content_type, key_id, body, status, created_at)
         VALUES ($1, 1000, $2, $3, $4, 1000, 1, $5, $6, 2, now())`,
        [conv, `wamid.${uid("inflight")}`, `b_${biz.pn}`, `c_${biz.customerId}`, keyId, body],
      );
      const erasing = unaryCall(ca.eraseBusinessKey.bind(ca), { businessId: biz.businessId, reason: "the business closed its account" }, { token: operator });
      // The erasure waits on the message table's lock while the insert is open.
      await waitFor(async () => {
        const w = await a.runtime.database.pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE message%'`);
        return w.rows.length > 0;
      }, 30_000);
      await inFlight.query("COMMIT");
      const erased = await erasing;
      expect(Number(erased.shreddedMessages)).toBe(2);
    } finally {
      await inFlight.query("ROLLBACK").catch(() => undefined); // only when the case failed midway
      inFlight.release();
    }
    // And an insert that starts after the erasure is refused by the key check.
    const late = await a.runtime.database.pool
      .query(
        `INSERT INTO message (conversation_id, seq, id, sender, recipient, rseq, content_type, key_id, body, status, created_at)
         VALUES ($1, 1001, $2, $3, $4, 1001, 1, $5, $6, 2, now())`,
        [conv, `wamid.${uid("late")}`, `b_${biz.pn}`, `c_${biz.customerId}`, keyId, body],
      )
      .then(
        () => "stored",
        (err: { code?: string }) => err.code,
      );
    expect(late).toBe("KR003");
  });

  it("when a stored body is altered, then reading it is DATA_LOSS, not erased", async () => {
    const biz = await business();
    const id = await send(ca, biz, "intact");
    await a.runtime.database.pool.query(`UPDATE message SET body = set_byte(body, length(body) - 1, get_byte(body, length(body) - 1) # 1) WHERE id = $1`, [id]);
    const err = await expectFailure(ca.getMessage.bind(ca), { participant: customer(biz.customerId), messageId: id }, { token: biz.customerToken });
    expect(err.code).toBe(status.DATA_LOSS);
    expect(errorDetail(err)?.reason).toBe("DATA_CORRUPTED");
    // The key itself is fine: the business still sends and reads.
    const next = await send(ca, biz, "still fine");
    expect((await read(ca, biz, next)).contentErased).toBe(false);
  });

  it("when a business that never had a key is erased, then it is refused too", async () => {
    const biz = await business();
    const erased = await unaryCall(ca.eraseBusinessKey.bind(ca), { businessId: biz.businessId, reason: "the business closed its account" }, { token: operator });
    expect(Number(erased.shreddedMessages)).toBe(0);
    await expectSendRefused(ca, biz);
  });
});
