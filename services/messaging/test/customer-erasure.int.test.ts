import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { CustomerErased } from "@kontor/proto/messaging/v1/events";
import { MessagingServiceClient, type ExportCustomerDataResponse } from "@kontor/proto/messaging/v1/messaging_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { authMetadata, clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig, type Config } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { customer, e164, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid, ROUTING_ONLY } from "./factories.js";

/*
 * Customer erasure (rule 9) with replicas sharing PostgreSQL and NATS, as
 * pods do: A serves the erasures; other replicas learn them from the event.
 */
let env: TestEnv;
let config: Readonly<Config>;
let a: MessagingApp;
let ca: MessagingServiceClient;
let onboarding: string;
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

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "200" }));
  ({ app: a, client: ca } = await replica());
  onboarding = await env.token({ kind: "service", service: "onboarding" });
  operator = await env.token({ kind: "staff", staffId: "op_erase", roles: ["operator"] });
});

afterAll(async () => {
  for (const r of [...running].reverse()) await stop(r).catch(() => undefined);
  await env?.cleanup();
});

const db = () => a.runtime.database.pool;

/** A business with one number known to every running replica. */
async function business() {
  const businessId = uid("biz_");
  const pn = uid("pn_");
  await registerBusiness(env, a, businessId, pn);
  for (const r of running) await waitFor(() => r.app.directory.get(pn), 10_000);
  return { businessId, pn, token: await env.token({ kind: "business", businessId }) };
}
type Biz = Awaited<ReturnType<typeof business>>;

async function newCustomer() {
  const id = uid("cust_er");
  const phone = await registerCustomer(ca, onboarding, id, e164(), "Ana Erased");
  return { id, e164: phone, token: await env.token({ kind: "customer", customerId: id }) };
}
type Cust = Awaited<ReturnType<typeof newCustomer>>;

/** One message each way; returns the message ids and the conversation. */
async function chat(client: MessagingServiceClient, c: Cust, biz: Biz): Promise<{ ids: string[]; conversationId: string }> {
  const inbound = await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(biz.pn), text(`hello ${biz.pn}`)), { token: c.token });
  const outbound = await unaryCall(client.sendMessage.bind(client), sendReq(number(biz.pn), customer(c.id), text(`hi ${c.id}`)), { token: biz.token });
  return { ids: [inbound.result!.messageId, outbound.result!.messageId], conversationId: inbound.result!.conversationId };
}

async function erase(client: MessagingServiceClient, customerId: string, token: string, reason = "") {
  return unaryCall(client.eraseCustomerData.bind(client), { customerId, reason }, { token });
}

async function exportRefusal(token: string, customerId: string): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    const call = ca.exportCustomerData({ customerId, format: 0 }, authMetadata(token));
    call.on("data", (_r: ExportCustomerDataResponse) => undefined);
    call.on("error", resolve);
    call.on("end", () => reject(new Error("the export was not refused")));
  });
}

async function erasedEvents(customerId: string): Promise<CustomerErased[]> {
  await outboxDrained(db());
  return (await streamMessages(env, "messaging", subjects.customerErased)).map((m) => CustomerErased.decode(m.data)).filter((e) => e.customerId === customerId);
}

async function expectSendRefused(client: MessagingServiceClient, c: Cust, biz: Biz) {
  const toCustomer = await expectFailure(client.sendMessage.bind(client), sendReq(number(biz.pn), customer(c.id), text("after erasure")), { token: biz.token });
  expect([toCustomer.code, errorDetail(toCustomer)?.reason]).toEqual([status.NOT_FOUND, "RECIPIENT_NOT_FOUND"]);
  const byNumber = await expectFailure(client.sendMessage.bind(client), sendReq(number(biz.pn), undefined as never, text("after erasure"), { to: c.e164 }), { token: biz.token });
  expect(byNumber.code).toBe(status.NOT_FOUND);
  const fromCustomer = await expectFailure(client.sendMessage.bind(client), sendReq(customer(c.id), number(biz.pn), text("me again")), { token: c.token });
  expect(fromCustomer.code).toBe(status.NOT_FOUND);
}

describe("erasing a customer's data", () => {
  it("when the customer erases itself, then every body of its conversations reads back as content_erased, its consent, settings, blocks and profile are gone, and the erasure is audited", async () => {
    const [x, y] = [await business(), await business()];
    const c = await newCustomer();
    const other = await newCustomer();
    const first = await chat(ca, c, x);
    const second = await chat(ca, c, y);
    const untouched = await chat(ca, other, x);
    await unaryCall(ca.setMarketingConsent.bind(ca), { customerId: c.id, businessId: x.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token: c.token });
    await unaryCall(ca.setPrivacySettings.bind(ca), { customerId: c.id, adPersonalization: true, dataSharingOptOut: undefined }, { token: c.token });
    await unaryCall(ca.reportBusiness.bind(ca), { customerId: c.id, businessId: y.businessId, reason: 1, comment: "they wrote to me at home, Hauptstr. 1", phoneNumberId: y.pn, block: true }, { token: c.token });

    // A business number blocks the customer (block_users), and the other customer: only the customer's row goes.
    for (const who of [c.id, other.id]) await db().query(`INSERT INTO user_block (phone_number_id, customer_id, business_id, blocked, changed_at) VALUES ($1, $2, $3, true, now())`, [x.pn, who, x.businessId]);
    // A greeting went to the customer (and one to the other customer, which stays).
    for (const who of [c.id, other.id]) await db().query(`INSERT INTO auto_reply_sent (phone_number_id, customer_id, kind, sent_at) VALUES ($1, $2, 'greeting', now())`, [x.pn, who]);

    const erased = await erase(ca, c.id, c.token);
    expect(Number(erased.erasedMessages)).toBe(4);
    expect((await db().query(`SELECT customer_id FROM auto_reply_sent WHERE phone_number_id = $1`, [x.pn])).rows).toEqual([{ customer_id: other.id }]);
    expect(erased.erasedAt).toBeInstanceOf(Date);

    // Both sides' history: every message keeps its place and reads back as erased.
    for (const [biz, conv] of [[x, first], [y, second]] as const) {
      const asBusiness = await unaryCall(ca.listMessages.bind(ca), { participant: number(biz.pn), conversationId: conv.conversationId, newestFirst: false, page: undefined }, { token: biz.token });
      expect(asBusiness.messages.map((m) => [m.id, m.contentErased, m.content])).toEqual(conv.ids.map((id) => [id, true, undefined]));
      const asCustomer = await unaryCall(ca.getMessage.bind(ca), { participant: customer(c.id), messageId: conv.ids[0]! }, { token: c.token });
      expect(asCustomer.message?.contentErased).toBe(true);
    }
    // Another customer's conversation with the same business is untouched.
    const kept = await unaryCall(ca.getMessage.bind(ca), { participant: number(x.pn), messageId: untouched.ids[0]! }, { token: x.token });
    expect(kept.message?.contentErased).toBe(false);

    const rows = async (table: string) => Number((await db().query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE customer_id = $1`, [c.id])).rows[0]!.n);
    expect([await rows("marketing_consent"), await rows("customer_privacy"), await rows("customer_block"), await rows("user_block")]).toEqual([0, 0, 0, 0]);
    expect((await db().query(`SELECT customer_id FROM user_block WHERE phone_number_id = $1`, [x.pn])).rows).toEqual([{ customer_id: other.id }]);
    // The report stays for the business's quality record, without the customer's words.
    expect((await db().query(`SELECT comment FROM business_report WHERE customer_id = $1`, [c.id])).rows).toEqual([{ comment: "" }]);
    const row = (await db().query(`SELECT id, e164, profile_name, erased_at FROM customer WHERE id = $1`, [c.id])).rows[0];
    expect(row).toMatchObject({ id: c.id, e164: null, profile_name: "" });
    expect(row.erased_at).toEqual(erased.erasedAt);
    const audit = (await db().query(`SELECT erased_by, reason, erased_messages FROM customer_erasure WHERE customer_id = $1`, [c.id])).rows;
    expect(audit).toEqual([{ erased_by: `customer:${c.id}`, reason: "", erased_messages: "4" }]);
    // The business's conversation list no longer names the customer.
    const listed = await unaryCall(ca.listConversations.bind(ca), { participant: number(x.pn), page: undefined, filter: undefined }, { token: x.token });
    expect(listed.conversations.find((cv) => cv.id === first.conversationId)?.counterpartName).toBe("");

    // Gone for messaging: no export, no sends either way.
    const refused = await exportRefusal(c.token, c.id);
    expect(refused.code).toBe(status.NOT_FOUND);
    await expectSendRefused(ca, c, x);
  });

  it("when an operator erases a customer, then a reason is required and recorded with the operator", async () => {
    const biz = await business();
    const c = await newCustomer();
    await chat(ca, c, biz);
    const noReason = await expectFailure(ca.eraseCustomerData.bind(ca), { customerId: c.id, reason: "  " }, { token: operator });
    expect([noReason.code, errorDetail(noReason)?.field]).toEqual([status.INVALID_ARGUMENT, "reason"]);
    expect((await db().query(`SELECT erased_at FROM customer WHERE id = $1`, [c.id])).rows[0].erased_at).toBeNull();

    const erased = await erase(ca, c.id, operator, "DSR-2026-0042");
    expect(Number(erased.erasedMessages)).toBe(2);
    const audit = (await db().query(`SELECT erased_by, reason FROM customer_erasure WHERE customer_id = $1`, [c.id])).rows;
    expect(audit).toEqual([{ erased_by: "staff:op_erase", reason: "DSR-2026-0042" }]);
  });

  it("when another customer, a business or a bad id asks, then PERMISSION_DENIED or INVALID_ARGUMENT and nothing is erased; an unknown customer is NOT_FOUND", async () => {
    const biz = await business();
    const c = await newCustomer();
    const mallory = await newCustomer();
    await chat(ca, c, biz);
    const denied = await expectFailure(ca.eraseCustomerData.bind(ca), { customerId: c.id, reason: "I want it gone" }, { token: mallory.token });
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    const byBusiness = await expectFailure(ca.eraseCustomerData.bind(ca), { customerId: c.id, reason: "x" }, { token: biz.token });
    expect(byBusiness.code).toBe(status.PERMISSION_DENIED);
    for (const customerId of ["", "not valid!"]) {
      const bad = await expectFailure(ca.eraseCustomerData.bind(ca), { customerId, reason: "x" }, { token: operator });
      expect([bad.code, errorDetail(bad)?.field]).toEqual([status.INVALID_ARGUMENT, "customer_id"]);
    }
    const unknown = await expectFailure(ca.eraseCustomerData.bind(ca), { customerId: uid("nobody"), reason: "DSR-1" }, { token: operator });
    expect(unknown.code).toBe(status.NOT_FOUND);

    const left = await db().query(`SELECT count(*) AS n FROM message m JOIN conversation c ON c.id = m.conversation_id WHERE c.customer_id = $1 AND m.key_id <> 0`, [c.id]);
    expect(Number(left.rows[0].n)).toBe(2);
    expect((await db().query(`SELECT erased_at FROM customer WHERE id = $1`, [c.id])).rows[0].erased_at).toBeNull();
  });

  it("when the erasure is asked twice, then the second answers 0 messages with the first's time, and the event is on NATS once", async () => {
    const biz = await business();
    const c = await newCustomer();
    await chat(ca, c, biz);
    const first = await erase(ca, c.id, c.token);
    const second = await erase(ca, c.id, operator, "DSR-repeat");
    expect(Number(first.erasedMessages)).toBe(2);
    expect(Number(second.erasedMessages)).toBe(0);
    expect(second.erasedAt).toEqual(first.erasedAt);
    const events = await erasedEvents(c.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ customerId: c.id, erasedAt: first.erasedAt, meta: { eventId: `${c.id}:erased` } });
    expect(Number((await db().query(`SELECT count(*) AS n FROM customer_erasure WHERE customer_id = $1`, [c.id])).rows[0].n)).toBe(1);
  });

  it("when the erased id is registered again, then FAILED_PRECONDITION CUSTOMER_ERASED and nothing comes back; its old number is free for a new id", async () => {
    const c = await newCustomer();
    await erase(ca, c.id, c.token);
    const again = await expectFailure(ca.upsertCustomer.bind(ca), { customerId: c.id, e164: c.e164, profileName: "Ana Again", settings: undefined }, { token: onboarding });
    expect([again.code, errorDetail(again)?.reason]).toEqual([status.FAILED_PRECONDITION, "CUSTOMER_ERASED"]);
    expect((await db().query(`SELECT e164, profile_name FROM customer WHERE id = $1`, [c.id])).rows[0]).toEqual({ e164: null, profile_name: "" });
    const fresh = uid("cust_new");
    await registerCustomer(ca, onboarding, fresh, c.e164, "Someone New");
    const biz = await business();
    const hello = await unaryCall(ca.sendMessage.bind(ca), sendReq(customer(fresh), number(biz.pn), text("hello")), { token: await env.token({ kind: "customer", customerId: fresh }) });
    const sent = await unaryCall(ca.sendMessage.bind(ca), sendReq(number(biz.pn), undefined as never, text("welcome"), { to: c.e164 }), { token: biz.token });
    expect(sent.result?.conversationId).toBe(hello.result?.conversationId);
  });

  it("when a body was committed after the erasure (a replica that had not heard yet), then erasing again removes it, with no second event", async () => {
    const biz = await business();
    const c = await newCustomer();
    const { conversationId } = await chat(ca, c, biz);
    await erase(ca, c.id, c.token);
    const id = await lateMessage(conversationId, c.id, biz, 100);
    expect((await unaryCall(ca.getMessage.bind(ca), { participant: number(biz.pn), messageId: id }, { token: biz.token })).message?.contentErased).toBe(false);
    const again = await erase(ca, c.id, c.token);
    expect(Number(again.erasedMessages)).toBe(1);
    expect((await unaryCall(ca.getMessage.bind(ca), { participant: number(biz.pn), messageId: id }, { token: biz.token })).message?.contentErased).toBe(true);
    expect(await erasedEvents(c.id)).toHaveLength(1);
  });
});

/**
 * A row as the late group commit of a replica that still knew the customer
 * writes it: a business's send to another customer (sealed under the live
 * key, its id the AAD) moved into the erased customer's conversation.
 */
async function lateMessage(conversationId: string, customerId: string, biz: Biz, seq: number): Promise<string> {
  const donor = await newCustomer();
  await unaryCall(ca.sendMessage.bind(ca), sendReq(customer(donor.id), number(biz.pn), text("hi")), { token: donor.token });
  const sent = await unaryCall(ca.sendMessage.bind(ca), sendReq(number(biz.pn), customer(donor.id), text("late")), { token: biz.token });
  const id = sent.result!.messageId;
  await db().query(`UPDATE message SET conversation_id = $1, seq = $2, recipient = $3 WHERE id = $4`, [conversationId, seq, `c_${customerId}`, id]);
  return id;
}

describe("erasing a customer with several replicas", () => {
  it("when a replica that knows the customer is up, then the event makes it refuse sends to and from the customer", async () => {
    const b = await replica();
    const biz = await business();
    const c = await newCustomer();
    // B resolves and caches the customer through a send of its own.
    const { conversationId } = await chat(b.client, c, biz);
    await erase(ca, c.id, c.token);
    await waitFor(async () => {
      const r = await unaryCall(b.client.sendMessage.bind(b.client), sendReq(number(biz.pn), customer(c.id), text("probe")), { token: biz.token }).then(
        () => "accepted",
        (err: ServiceError) => err.code,
      );
      return r === status.NOT_FOUND;
    }, 10_000);
    await expectSendRefused(b.client, c, biz);
    // A probe B accepted before it heard was committed after the erasure; erasing again empties whatever is left.
    await erase(ca, c.id, c.token);
    const bodies = await db().query<{ key_id: number; n: number }>(`SELECT key_id, length(body) AS n FROM message WHERE conversation_id = $1`, [conversationId]);
    expect(bodies.rows.length).toBeGreaterThanOrEqual(2);
    expect(bodies.rows.every((r) => r.key_id === 0 && r.n === 0)).toBe(true);
    await stop(b);
  });

  it("when a replica starts after an erasure, then its consumer replays the event and removes bodies committed after the erasure", async () => {
    const biz = await business();
    const c = await newCustomer();
    const { conversationId } = await chat(ca, c, biz);
    await erase(ca, c.id, c.token);
    const id = await lateMessage(conversationId, c.id, biz, 100);
    const late = async () => (await db().query<{ key_id: number }>(`SELECT key_id FROM message WHERE id = $1`, [id])).rows[0]!.key_id;
    expect(await late()).not.toBe(0);
    const b = await replica();
    await waitFor(async () => (await late()) === 0, 10_000);
    const read = await unaryCall(b.client.getMessage.bind(b.client), { participant: number(biz.pn), messageId: id }, { token: biz.token });
    expect(read.message?.contentErased).toBe(true);
    await stop(b);
  });
});
