import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import type { Subscription } from "nats";
import { clientFor, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { customer, Inbox, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let a: MessagingApp;
let b: MessagingApp;
let ca: MessagingServiceClient;
let cb: MessagingServiceClient;
let service: string;
let bizToken: string;
const settle = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  env = await createTestEnv();
  const config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200", LIVE_INTEREST_MS: "100" }));
  a = await createMessaging(config);
  b = await createMessaging(config);
  ca = clientFor(MessagingServiceClient, (await a.start()).port);
  cb = clientFor(MessagingServiceClient, (await b.start()).port);
  service = await env.token({ kind: "service", service: "onboarding" });
  bizToken = await env.token({ kind: "business", businessId: "biz_two" });
  await registerBusiness(env, a, "biz_two", "pn_two");
  // The durable consumer hands each event to one replica; the other learns from the table.
  await waitFor(() => b.directory.get("pn_two"), 10_000);
});

afterAll(async () => {
  ca?.close();
  cb?.close();
  await a?.stop();
  await b?.stop();
  await env?.cleanup();
});

describe("two replicas", () => {
  it("when both accept sends to one conversation and streams sit on either, then seq numbers are gap-free and every reader gets all in order", async () => {
    const id = uid("cust");
    await registerCustomer(ca, service, id);
    const token = await env.token({ kind: "customer", customerId: id });
    const onA = new Inbox(ca, token, customer(id));
    const onB = new Inbox(cb, token, customer(id));
    await Promise.all([onA.waitCaughtUp(), onB.waitCaughtUp()]);
    const n = 100;
    const sends = [];
    for (let i = 0; i < n; i++) {
      const client = i % 2 === 0 ? ca : cb;
      sends.push(unaryCall(client.sendMessage.bind(client), sendReq(number("pn_two"), customer(id), text(`x${i}`)), { token: bizToken }));
    }
    const results = await Promise.all(sends);
    expect(results.map((r) => Number(r.result!.seq)).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const inbox of [onA, onB]) {
      const got = await inbox.waitForMessages(n);
      expect(got.map((m) => m.cursor)).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)));
      expect(got.map((m) => Number(m.message!.seq))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    }
    // A retry on the other replica is still the same message.
    const req = sendReq(number("pn_two"), customer(id), text("once"), { clientMessageId: "cross-replica" });
    const first = await unaryCall(ca.sendMessage.bind(ca), req, { token: bizToken });
    const again = await unaryCall(cb.sendMessage.bind(cb), req, { token: bizToken });
    expect(again.result?.messageId).toBe(first.result?.messageId);
    expect(again.result?.duplicate).toBe(true);
    onA.close();
    onB.close();
  });

  it("when a customer streams on one replica only, then the other publishes to it live and the replica holding the stream publishes nothing over NATS", async () => {
    const id = uid("cust");
    const key = `c_${id}`;
    await registerCustomer(ca, service, id);
    const token = await env.token({ kind: "customer", customerId: id });
    const nc = await env.nats();
    const seen: Subscription = nc.subscribe(`${env.natsPrefix}kontor.live.${key}`);
    let published = 0;
    void (async () => {
      for await (const _ of seen) published++;
    })();
    await nc.flush();
    const onA = new Inbox(ca, token, customer(id));
    await onA.waitCaughtUp();
    // B has heard A's interest in this customer's shard.
    await waitFor(() => b.live.othersListen(key) || undefined, 10_000);
    const repaired = a.live.counts.repaired;
    await unaryCall(cb.sendMessage.bind(cb), sendReq(number("pn_two"), customer(id), text("from b")), { token: bizToken });
    expect((await onA.waitForMessages(1)).map((m) => m.message!.seq)).toHaveLength(1);
    // It came live over NATS, not from the store's sweep.
    expect(a.live.counts.repaired).toBe(repaired);
    await waitFor(() => published >= 1 || undefined, 10_000);

    // A holds the only stream: its own sends reach it in-process and are not published.
    const unpublished = a.live.counts.unpublished;
    const before = published;
    await unaryCall(ca.sendMessage.bind(ca), sendReq(number("pn_two"), customer(id), text("from a")), { token: bizToken });
    expect(await onA.waitForMessages(2)).toHaveLength(2);
    expect(a.live.counts.unpublished).toBeGreaterThan(unpublished);
    // A publish would arrive within milliseconds; on a slow host this can only pass wrongly, never fail wrongly.
    await settle();
    expect(published).toBe(before);

    // Once the stream is gone, B stops publishing for it too.
    onA.close();
    await waitFor(() => !b.live.othersListen(key) || undefined, 10_000);
    const unpublishedB = b.live.counts.unpublished;
    await unaryCall(cb.sendMessage.bind(cb), sendReq(number("pn_two"), customer(id), text("nobody streams")), { token: bizToken });
    expect(b.live.counts.unpublished).toBeGreaterThan(unpublishedB);
    await settle();
    expect(published).toBe(before);
    seen.unsubscribe();
  });
});
