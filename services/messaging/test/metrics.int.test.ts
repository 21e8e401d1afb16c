import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MessagingServiceClient, type SendItemResult } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { authMetadata, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { MessagingApp } from "../src/app.js";
import { customer, Inbox, number, registerCustomer, sendReq, startWithBusiness, text, uid, ROUTING_ONLY } from "./factories.js";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let metricsPort: number;
let bizToken: string;
const biz = "biz_metrics";
const phone = "pn_metrics";

beforeAll(async () => {
  env = await createTestEnv();
  ({ app, client, metricsPort, bizToken } = await startWithBusiness(env, biz, phone, ROUTING_ONLY));
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** The value of one sample on /metrics (0 when absent), matched by name and a label subset. */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-z_]+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe("the routing core's metrics", () => {
  it("count sends by outcome (unary and streamed), group commits, open inbox streams, backlog and repaired deliveries", async () => {
    const c = uid("cust");
    await registerCustomer(client, await env.token({ kind: "service", service: "onboarding" }), c);
    const token = await env.token({ kind: "customer", customerId: c });
    const live = new Inbox(client, token, customer(c));
    await live.waitCaughtUp();
    expect(await sample("kontor_messaging_inbox_streams")).toBe(1);

    // Unary: two accepted, one retry, one refused.
    const first = sendReq(number(phone), customer(c), text("one"));
    await unaryCall(client.sendMessage.bind(client), first, { token: bizToken });
    await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c), text("two")), { token: bizToken });
    const retry = await unaryCall(client.sendMessage.bind(client), first, { token: bizToken });
    expect(retry.result?.duplicate).toBe(true);
    const refused = await expectFailure(client.sendMessage.bind(client), sendReq(number(phone), customer(c), text("")), { token: bizToken });
    expect(refused.code).toBe(status.INVALID_ARGUMENT);

    // Streamed: one accepted, one refused.
    const stream = client.sendMessageStream(authMetadata(bizToken));
    const results: SendItemResult[] = [];
    stream.on("data", (r: { results: SendItemResult[] }) => results.push(...r.results));
    stream.write({ ref: "1", message: sendReq(number(phone), customer(c), text("three")) });
    stream.write({ ref: "2", message: sendReq(number(phone), customer(c), text("")) });
    stream.end();
    await waitFor(() => results.length === 2);

    // A commit whose live delivery is lost: the sweep delivers it from the store.
    const original = app.live.publishItems;
    app.live.publishItems = () => undefined;
    try {
      await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c), text("four")), { token: bizToken });
    } finally {
      app.live.publishItems = original;
    }
    await live.waitForMessages(4);

    // A second device starting from the beginning reads all four from the store.
    const second = new Inbox(client, token, customer(c));
    await second.waitCaughtUp();
    expect(await sample("kontor_messaging_inbox_streams")).toBe(2);

    expect(await sample("kontor_messaging_sends_total", { outcome: "accepted" })).toBe(4);
    expect(await sample("kontor_messaging_sends_total", { outcome: "duplicate" })).toBe(1);
    expect(await sample("kontor_messaging_sends_total", { outcome: "refused" })).toBe(2);
    expect(await sample("kontor_messaging_sends_total", { outcome: "failed" })).toBe(0);
    // Both refusals were bad input, counted by their reason.
    expect(await sample("kontor_messaging_send_refusals_total", { reason: "INVALID_FIELD" })).toBe(2);
    // Every send that reached a group commit (the retry too), in at least one commit each time.
    expect(await sample("kontor_messaging_group_commit_messages_sum")).toBe(5);
    const commits = await sample("kontor_messaging_group_commit_messages_count");
    expect(commits).toBeGreaterThanOrEqual(4);
    expect(await sample("kontor_messaging_group_commit_seconds_count")).toBe(commits);
    expect(await sample("kontor_messaging_inbox_repaired_messages_total")).toBe(1);
    // The first device's backlog was empty; the second one's held the four.
    expect(await sample("kontor_messaging_inbox_backlog_messages_total")).toBe(4);
    expect(await sample("kontor_messaging_send_queue")).toBe(0);

    second.close();
    await waitFor(async () => (await sample("kontor_messaging_inbox_streams")) === 1);
    live.close();
    await waitFor(async () => (await sample("kontor_messaging_inbox_streams")) === 0);
  });
});
