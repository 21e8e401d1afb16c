import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createPartner, expectGraphError, graph, registerCustomer, startStack, type PartnerFixture, type Stack } from "./factories.js";

/** A partner's webhook endpoint: answers the handshake, checks every signature over the raw bytes, can be made to fail. */
class Receiver {
  server: Server;
  url = "";
  received: { raw: string; body: any; signatureOk: boolean; sha1Ok: boolean; eventId: string }[] = [];
  /** Answer notifications with this status (500: the receiver is failing). */
  answer = 200;
  attemptsWhileFailing = 0;
  constructor(
    private appSecret: string,
    private verifyToken: string,
  ) {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET") {
        const ok = url.searchParams.get("hub.mode") === "subscribe" && url.searchParams.get("hub.verify_token") === this.verifyToken;
        res.writeHead(ok ? 200 : 403, { "content-type": "text/plain" }).end(ok ? url.searchParams.get("hub.challenge") : "no");
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (this.answer !== 200) {
          this.attemptsWhileFailing++;
          res.writeHead(this.answer).end();
          return;
        }
        const raw = Buffer.concat(chunks);
        const expected = `sha256=${createHmac("sha256", this.appSecret).update(raw).digest("hex")}`;
        const got = String(req.headers["x-hub-signature-256"] ?? "");
        const signatureOk = got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
        const sha1Ok = req.headers["x-hub-signature"] === `sha1=${createHmac("sha1", this.appSecret).update(raw).digest("hex")}`;
        this.received.push({ raw: raw.toString("utf8"), body: JSON.parse(raw.toString("utf8")), signatureOk, sha1Ok, eventId: String(req.headers["x-kontor-event-id"] ?? "") });
        res.writeHead(200).end("ok");
      });
    });
  }
  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}/hook`;
  }
  close() {
    this.server.closeAllConnections();
    this.server.close();
  }
  valuesOf(field: string) {
    return this.received.flatMap((r) => r.body.entry.flatMap((e: any) => e.changes.filter((c: any) => c.field === field).map((c: any) => c.value)));
  }
  inbound() {
    return this.valuesOf("messages").flatMap((v: any) => v.messages ?? []);
  }
  statuses() {
    return this.valuesOf("messages").flatMap((v: any) => v.statuses ?? []);
  }
}

let env: TestEnv;
let stack: Stack;
let p: PartnerFixture;
let receiver: Receiver;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { messaging: { MESSAGING_POLICY: "off" } });
  p = await createPartner(env, stack);
  receiver = new Receiver(p.appSecret, p.verifyToken);
  await receiver.listen();
});

afterAll(async () => {
  receiver?.close();
  await stack?.stop();
  await env?.cleanup();
});

async function customerSends(customerId: string, body: string, extra: Record<string, unknown> = {}) {
  const c = stack.messagingClient;
  const token = await env.token({ kind: "customer", customerId });
  const { result } = await unaryCall(
    c.sendMessage.bind(c),
    { sender: { kind: { $case: "customerId", value: customerId } }, recipient: { kind: { $case: "phoneNumberId", value: p.phoneNumberId } }, to: "", clientMessageId: "", content: { kind: { $case: "text", value: { body, previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined, ...extra },
    { token },
  );
  return result!;
}

describe("subscribed_apps", () => {
  it("when the callback does not echo the challenge, then the override is refused and nothing is subscribed", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/subscribed_apps`, { token: p.token, json: { override_callback_uri: receiver.url, verify_token: "wrong-token" } });
    expect(expectGraphError(r, 100, 400).error_data.details).toMatch(/override_callback_uri/);
    expect((await graph(stack.base, "GET", `/v23.0/${p.wabaId}/subscribed_apps`, { token: p.token })).body).toEqual({ data: [] });
  });

  it("when the override passes the handshake, then GET lists it", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/subscribed_apps`, { token: p.token, json: { override_callback_uri: receiver.url, verify_token: p.verifyToken } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true });
    const list = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/subscribed_apps`, { token: p.token });
    expect(list.body.data).toEqual([{ whatsapp_business_api_data: { id: p.partnerId, link: "", name: `BSP ${p.partnerId}` }, override_callback_uri: receiver.url }]);
  });
});

describe("notifications", () => {
  it("when a customer writes (with an ad referral) and the business answers, then the receiver gets signed messages and statuses in the Cloud API envelope", async () => {
    const { customerId, number } = await registerCustomer(stack, undefined, undefined, "Ana");
    // The business writes first (its status names the number too).
    const sent = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, {
      token: p.token,
      json: { messaging_product: "whatsapp", to: number, type: "text", text: { body: "Grüße 😀" }, biz_opaque_callback_data: "ref-1" },
    });
    expect(sent.status, sent.text).toBe(200);
    const wamid = sent.body.messages[0].id as string;
    const inbound = await customerSends(customerId, "hola ñ", {
      referral: { sourceUrl: "https://fb.me/ad", sourceId: "ad-7", sourceType: "ad", headline: "Mugs", body: "Buy", mediaType: "image", imageUrl: "https://x/i.jpg", videoUrl: "", thumbnailUrl: "", ctwaClid: "clid-1" },
    });
    await waitFor(() => receiver.inbound().some((m: any) => m.id === inbound.messageId) && receiver.statuses().some((s: any) => s.id === wamid && s.status === "sent"));

    expect(receiver.received.every((r) => r.signatureOk && r.sha1Ok)).toBe(true);
    expect(receiver.received.every((r) => !/[^\x00-\x7f]/.test(r.raw))).toBe(true);
    const inboundDelivery = receiver.received.find((r) => r.body.entry.some((e: any) => e.changes[0].value.messages?.[0]?.id === inbound.messageId))!;
    expect(inboundDelivery.raw).toContain("hola \\u00f1");
    expect(inboundDelivery.body.object).toBe("whatsapp_business_account");
    expect(inboundDelivery.body.entry.find((e: any) => e.changes[0].value.messages?.[0]?.id === inbound.messageId)).toEqual(
        {
          id: p.wabaId,
          changes: [
            {
              field: "messages",
              value: {
                messaging_product: "whatsapp",
                metadata: { display_phone_number: p.businessE164.slice(1), phone_number_id: p.phoneNumberId },
                contacts: [{ profile: { name: "Ana" }, wa_id: number.slice(1) }],
                messages: [
                  {
                    from: number.slice(1),
                    id: inbound.messageId,
                    timestamp: expect.stringMatching(/^\d{10}$/),
                    type: "text",
                    text: { body: "hola ñ" },
                    referral: { source_url: "https://fb.me/ad", source_id: "ad-7", source_type: "ad", body: "Buy", headline: "Mugs", media_type: "image", image_url: "https://x/i.jpg", ctwa_clid: "clid-1" },
                  },
                ],
              },
            },
          ],
        },
    );
    const sentStatus = receiver.statuses().find((s: any) => s.id === wamid && s.status === "sent");
    expect(sentStatus).toEqual({ id: wamid, status: "sent", timestamp: expect.stringMatching(/^\d{10}$/), recipient_id: number.slice(1), biz_opaque_callback_data: "ref-1", pricing: { billable: false, pricing_model: "PMP", type: "free_customer_service", category: "service" } });

    // The customer reads it: a read status follows, after sent (one conversation, in order).
    const c = stack.messagingClient;
    await unaryCall(c.reportReceipt.bind(c), { reader: { kind: { $case: "customerId", value: customerId } }, conversationId: inbound.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "0", messageId: wamid }, { token: await env.token({ kind: "customer", customerId }) });
    await waitFor(() => receiver.statuses().some((s: any) => s.id === wamid && s.status === "read"));
    const order = receiver.statuses().filter((s: any) => s.id === wamid).map((s: any) => s.status);
    expect(order.indexOf("sent")).toBeLessThan(order.indexOf("read"));

    // Two more answers read at once: messaging packs the receipt's statuses into one event; each becomes its own read status.
    const more: string[] = [];
    for (const body of ["one", "two"]) {
      const r = await graph(stack.base, "POST", `/v23.0/${p.phoneNumberId}/messages`, { token: p.token, json: { messaging_product: "whatsapp", to: number, type: "text", text: { body } } });
      expect(r.status, r.text).toBe(200);
      more.push(r.body.messages[0].id as string);
    }
    await unaryCall(c.reportReceipt.bind(c), { reader: { kind: { $case: "customerId", value: customerId } }, conversationId: inbound.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "0", messageId: more[1]! }, { token: await env.token({ kind: "customer", customerId }) });
    await waitFor(() => more.every((id) => receiver.statuses().some((s: any) => s.id === id && s.status === "read")));
    expect(receiver.statuses().filter((s: any) => more.includes(s.id) && s.status === "read")).toHaveLength(2);
  });

  it("when a template is created, then message_template_status_update notifications arrive with entry time", async () => {
    const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/message_templates`, {
      token: p.token,
      json: { name: "ship_note", language: "en", category: "UTILITY", components: [{ type: "BODY", text: "Your order {{1}} shipped today.", example: { body_text: [["A-1"]] } }] },
    });
    expect(r.status, r.text).toBe(200);
    await waitFor(() => receiver.valuesOf("message_template_status_update").some((v: any) => v.message_template_name === "ship_note" && v.event === "APPROVED"));
    // Notifications may arrive batched: one POST, several entries.
    const entries = receiver.received.flatMap((x) => x.body.entry);
    const approved = entries.find((e: any) => e.changes[0].value.event === "APPROVED" && e.changes[0].value.message_template_name === "ship_note");
    expect(approved).toEqual({
      id: p.wabaId,
      time: expect.any(Number),
      changes: [{ field: "message_template_status_update", value: { event: "APPROVED", message_template_id: r.body.id, message_template_name: "ship_note", message_template_language: "en", message_template_category: "UTILITY", reason: "NONE" } }],
    });
  });

  it("when the receiver fails and the gateway restarts meanwhile, then every notification arrives once it recovers, in order per conversation", async () => {
    const { customerId } = await registerCustomer(stack);
    receiver.answer = 500;
    const before = receiver.inbound().length;
    const first = await customerSends(customerId, "one");
    await waitFor(() => receiver.attemptsWhileFailing >= 2);
    await stack.restartGateway();
    const second = await customerSends(customerId, "two");
    const third = await customerSends(customerId, "three");
    await waitFor(() => receiver.attemptsWhileFailing >= 4);
    receiver.answer = 200;
    await waitFor(() => receiver.inbound().length >= before + 3, 90_000);
    const ids = receiver.inbound().map((m: any) => m.id).filter((id: string) => [first.messageId, second.messageId, third.messageId].includes(id));
    expect(ids).toEqual([first.messageId, second.messageId, third.messageId]);
    expect(receiver.received.every((r) => r.signatureOk)).toBe(true);
  });

  it("when a delivery runs out of retries, then it is dead-lettered, listed, and a replay delivers it", async () => {
    const rows = await stack.gateway.db
      .insertInto("webhook_delivery")
      .values({ partner_id: p.partnerId, waba_id: p.wabaId, event_id: "manual-dead-1", order_key: "k-dead", body: '{"object":"whatsapp_business_account","entry":[]}', status: "dead", locked_until: null, finished_at: new Date() })
      .returning("id")
      .execute();
    const list = await graph(stack.base, "GET", `/v23.0/${p.wabaId}/webhook_dead_letters`, { token: p.token });
    expect(list.body.data.map((d: any) => d.event_id)).toContain("manual-dead-1");
    const replay = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_dead_letters`, { token: p.token, json: { ids: [rows[0]!.id] } });
    expect(replay.body).toEqual({ success: true, replayed: 1 });
    await waitFor(() => receiver.received.some((r) => r.eventId.split(",").includes("manual-dead-1")));
  });

  it("when another partner asks for this WABA's subscriptions, then it is refused like an unknown id", async () => {
    const other = await createPartner(env, stack);
    expectGraphError(await graph(stack.base, "GET", `/v23.0/${p.wabaId}/subscribed_apps`, { token: other.token }), 100, 400);
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${p.wabaId}/subscribed_apps`, { token: other.token, json: {} }), 100, 400);
  });
});

describe("replay and retention", () => {
  it("when a range is replayed since an event id, then its notifications arrive again with their event ids, in queue order", async () => {
    const { customerId } = await registerCustomer(stack);
    const sent = [await customerSends(customerId, "r1"), await customerSends(customerId, "r2")];
    await waitFor(() => sent.every((m) => receiver.inbound().some((x: any) => x.id === m.messageId)));
    const rows = await stack.gateway.db.selectFrom("webhook_delivery").select(["event_id", "body"]).where("waba_id", "=", p.wabaId).where("replay_id", "=", "").orderBy("id").execute();
    const first = rows.find((r) => r.body.includes(sent[0]!.messageId))!;
    const before = receiver.received.length;
    const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_replay`, { token: p.token, json: { since_event_id: first.event_id } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ success: true, replay_id: expect.any(String), truncated: false });
    const expected = rows.slice(rows.indexOf(first)).map((x) => x.event_id);
    expect(r.body.replayed).toBe(expected.length);
    await waitFor(() => receiver.received.slice(before).flatMap((x) => x.eventId.split(",")).length >= expected.length);
    const again = receiver.received.slice(before);
    expect(again.flatMap((x) => x.eventId.split(","))).toEqual(expected);
    expect(again.every((x) => x.signatureOk)).toBe(true);
    const ids = again.flatMap((x) => x.body.entry.flatMap((e: any) => e.changes.flatMap((c: any) => (c.value.messages ?? []).map((m: any) => m.id))));
    expect(ids.filter((id: string) => sent.some((m) => m.messageId === id))).toEqual(sent.map((m) => m.messageId));
  });

  it("when a range is replayed since a time to another URL, then that URL (after the handshake) gets the copies and the subscription nothing more", async () => {
    const other = new Receiver(p.appSecret, "other-verify");
    await other.listen();
    try {
      const since = Math.floor(Date.now() / 1000) - 3600;
      const bad = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_replay`, { token: p.token, json: { since, override_callback_uri: other.url, verify_token: "wrong" } });
      expect(expectGraphError(bad, 100, 400).error_data.details).toMatch(/override_callback_uri/);
      const count = await stack.gateway.db.selectFrom("webhook_delivery").select((eb) => eb.fn.countAll<string>().as("n")).where("waba_id", "=", p.wabaId).where("replay_id", "=", "").executeTakeFirstOrThrow();
      const before = receiver.received.length;
      const r = await graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_replay`, { token: p.token, json: { since, override_callback_uri: other.url, verify_token: "other-verify" } });
      expect(r.status, r.text).toBe(200);
      expect(r.body.replayed).toBe(Number(count.n));
      await waitFor(() => other.received.flatMap((x) => x.eventId.split(",")).length >= Number(count.n));
      expect(other.received.every((x) => x.signatureOk)).toBe(true);
      expect(receiver.received.length).toBe(before);
    } finally {
      other.close();
    }
  });

  it("when a replay's range is missing, ambiguous, outside the window or names an unknown event, then a Graph error names the parameter", async () => {
    const call = (json: unknown) => graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_replay`, { token: p.token, json });
    expectGraphError(await call({}), 131008, 400);
    expectGraphError(await call({ since: 1, since_event_id: "x" }), 131008, 400);
    expect(expectGraphError(await call({ since: Math.floor(Date.now() / 1000) - 8 * 86400 }), 100, 400).error_data.details).toMatch(/since.*replay window/);
    expect(expectGraphError(await call({ since: "yesterday" }), 100, 400).error_data.details).toMatch(/since/);
    expect(expectGraphError(await call({ since_event_id: "no-such-event" }), 100, 400).error_data.details).toMatch(/since_event_id/);
    expect(expectGraphError(await call({ since: 1, bogus: 1 }), 100, 400).error_data.details).toMatch(/bogus/);
    const other = await createPartner(env, stack);
    expectGraphError(await graph(stack.base, "POST", `/v23.0/${p.wabaId}/webhook_replay`, { token: other.token, json: { since: Math.floor(Date.now() / 1000) } }), 100, 400);
  });

  it("when the retention sweep runs on two replicas at once, then one of them deletes the finished notifications past retention, and pending or recent ones stay", async () => {
    const db = stack.gateway.db;
    const old = new Date(Date.now() - 8 * 86400_000);
    const row = (event: string, status: "pending" | "delivered" | "dead", createdAt: Date) => ({
      partner_id: p.partnerId, waba_id: p.wabaId, event_id: event, order_key: `k-${event}`, body: "{}", status, locked_until: null, finished_at: status === "pending" ? null : createdAt, created_at: createdAt,
      next_attempt_at: new Date(Date.now() + 86400_000),
    });
    await db.insertInto("webhook_delivery").values([row("old-delivered", "delivered", old), row("old-dead", "dead", old), row("old-pending", "pending", old), row("new-delivered", "delivered", new Date())]).execute();
    // The gateway swept at start; the job is due again.
    await db.updateTable("job_run").set({ ran_at: new Date(0) }).execute();
    const runs = await Promise.all([stack.gateway.retention.runOnce(), stack.gateway.retention.runOnce()]);
    expect(runs.filter((n) => n > 0)).toHaveLength(1);
    expect(runs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    const left = (await db.selectFrom("webhook_delivery").select("event_id").where("event_id", "in", ["old-delivered", "old-dead", "old-pending", "new-delivered"]).execute()).map((r) => r.event_id).sort();
    expect(left).toEqual(["new-delivered", "old-pending"]);
    // Not again within the interval.
    expect(await stack.gateway.retention.runOnce()).toBe(0);
  });
});
