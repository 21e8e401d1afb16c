import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
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

beforeAll(async () => {
  env = await createTestEnv();
  const config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" }));
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
});
