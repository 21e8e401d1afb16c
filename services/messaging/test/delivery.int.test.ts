import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient, type SendResult } from "@kontor/proto/messaging/v1/messaging_service";
import { domainStream } from "@kontor/service-kit/nats";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging, type MessagingApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { customer, e164, Inbox, masterKey, number, registerBusiness, registerCustomer, sendReq, text, uid, verifyBusiness, ROUTING_ONLY } from "./factories.js";
import { expandStatuses } from "@kontor/service-kit/message-status";

let env: TestEnv;
let app: MessagingApp;
let client: MessagingServiceClient;
let service: string;
let bizToken: string;
let config: ReturnType<typeof loadConfig>;
const biz = "biz_tea";
const phone = "pn_tea";
const phoneE164 = e164();

beforeAll(async () => {
  env = await createTestEnv();
  config = loadConfig(env.env({ ...ROUTING_ONLY, MESSAGE_MASTER_KEY: masterKey(), INBOX_SWEEP_MS: "300", DIRECTORY_REFRESH_MS: "300", STATUS_EVENTS: "per_commit" }));
  app = await createMessaging(config);
  const { port } = await app.start();
  client = clientFor(MessagingServiceClient, port);
  service = await env.token({ kind: "service", service: "onboarding" });
  bizToken = await env.token({ kind: "business", businessId: biz });
  await registerBusiness(env, app, biz, phone, phoneE164);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function newCustomer(c = client): Promise<{ id: string; token: string }> {
  const id = uid("cust");
  await registerCustomer(c, service, id);
  return { id, token: await env.token({ kind: "customer", customerId: id }) };
}

const bodyOf = (m: { message?: { content?: { kind?: unknown } } }) => (m.message?.content?.kind as { value: { body: string } }).value.body;

/** Every message.status event on the stream, as published (one status, or several in `statuses`). */
async function statusEventsOnStream(): Promise<MessageStatusChanged[]> {
  const nc = await env.nats();
  const stream = domainStream(env.natsPrefix, "messaging").name;
  // An ordered consumer on the status subject only: reading the whole stream one by one gets slow.
  const consumer = await nc.jetstream().consumers.get(stream, { filterSubjects: env.natsPrefix + subjects.messageStatus });
  const out: MessageStatusChanged[] = [];
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
    let n = 0;
    for await (const msg of batch) {
      n++;
      out.push(MessageStatusChanged.decode(msg.data));
      if (msg.info.pending === 0) break;
    }
    if (n === 0 || n < 1000) break;
  }
  return out;
}

/** A message's statuses, from single and packed events alike. */
async function statusEvents(messageId: string): Promise<MessageStatusChanged[]> {
  return (await statusEventsOnStream()).flatMap(expandStatuses).filter((one) => one.messageId === messageId);
}

describe("StreamInbox", () => {
  it("when messages keep arriving while the backlog is read, then the switch to live has no gap and no duplicate", async () => {
    const c = await newCustomer();
    const total = 400;
    let sent = 0;
    // A sender that runs before, during and after the stream opens.
    const sender = (async () => {
      while (sent < total) {
        const burst = [];
        for (let i = 0; i < 10 && sent < total; i++, sent++) burst.push(unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`m${sent}`)), { token: bizToken }));
        await Promise.all(burst);
      }
    })();
    await waitFor(() => sent >= 100);
    const inbox = new Inbox(client, c.token, customer(c.id));
    await sender;
    // The marker comes last: once it is in, a gap or a duplicate before it has shown.
    await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("end")), { token: bizToken });
    const all = await inbox.waitForText("end");
    expect(all).toHaveLength(total + 1);
    expect(bodyOf(all[total]!)).toBe("end");
    const got = all.slice(0, total);
    expect(got.map((m) => m.cursor)).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
    // Sends within a burst are concurrent, so only the set is fixed; seq order is what every reader shares.
    expect(new Set(got.map(bodyOf))).toEqual(new Set(Array.from({ length: total }, (_, i) => `m${i}`)));
    const seqs = got.map((m) => Number(m.message!.seq));
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(inbox.caughtUp()).toBe(true);
    inbox.close();
  });

  it("when one participant has several devices, then each gets everything; a reconnect resumes after its cursor", async () => {
    const c = await newCustomer();
    const phoneA = new Inbox(client, c.token, customer(c.id));
    const phoneB = new Inbox(client, c.token, customer(c.id));
    await Promise.all([phoneA.waitCaughtUp(), phoneB.waitCaughtUp()]);
    for (let i = 0; i < 5; i++) await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`d${i}`)), { token: bizToken });
    expect((await phoneA.waitForMessages(5)).map(bodyOf)).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    expect((await phoneB.waitForMessages(5)).map(bodyOf)).toEqual(["d0", "d1", "d2", "d3", "d4"]);
    const cursor = phoneB.messages()[2]!.cursor;
    phoneB.close();
    // Offline: store-and-forward.
    for (let i = 5; i < 8; i++) await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`d${i}`)), { token: bizToken });
    const back = new Inbox(client, c.token, customer(c.id), cursor);
    expect((await back.waitForMessages(5)).map(bodyOf)).toEqual(["d3", "d4", "d5", "d6", "d7"]);
    expect((await phoneA.waitForMessages(8)).length).toBe(8);
    phoneA.close();
    back.close();
  });

  it("when a customer sends from one device, then its other devices get the message in one cursor order with what it receives; the business gets no echo", async () => {
    const c = await newCustomer();
    const phoneA = new Inbox(client, c.token, customer(c.id));
    const laptop = new Inbox(client, c.token, customer(c.id));
    const agent = new Inbox(client, bizToken, number(phone));
    await Promise.all([phoneA.waitCaughtUp(), laptop.waitCaughtUp(), agent.waitCaughtUp()]);
    const agentBefore = agent.messages().length;
    const mine = await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("e0"), { clientMessageId: "dev-a-1" }), { token: c.token });
    await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("e1")), { token: bizToken });
    await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("e2")), { token: c.token });
    // A retry stores nothing and so echoes nothing.
    await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("e0"), { clientMessageId: "dev-a-1" }), { token: c.token });
    // A marker after the retry: once a stream has it, an echo or a copy of the retry would have shown.
    await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("mark")), { token: c.token });

    const onLaptop = await laptop.waitForText("mark");
    expect(onLaptop.map(bodyOf)).toEqual(["e0", "e1", "e2", "mark"]);
    expect(onLaptop.map((m) => m.cursor)).toEqual(["1", "2", "3", "4"]);
    // The sender's view carries its client id, so the sending device recognizes its own message.
    expect(onLaptop[0]!.message).toMatchObject({ id: mine.result!.messageId, clientMessageId: "dev-a-1", sender: customer(c.id), recipient: number(phone) });
    expect(onLaptop[1]!.message!.clientMessageId).toBe("");
    expect((await phoneA.waitForText("mark")).map(bodyOf)).toEqual(["e0", "e1", "e2", "mark"]);

    // The business's stream gets the customer's messages, and none of its own back.
    expect((await agent.waitForText("mark")).slice(agentBefore).map(bodyOf)).toEqual(["e0", "e2", "mark"]);
    await waitFor(() => agent.statuses().some((s) => s.messageId !== ""));

    // Store-and-forward covers own sends too: a new device from the start, and one resuming mid-way.
    const fresh = new Inbox(client, c.token, customer(c.id));
    expect((await fresh.waitForText("mark")).map((m) => [bodyOf(m), m.cursor])).toEqual([["e0", "1"], ["e1", "2"], ["e2", "3"], ["mark", "4"]]);
    const resumed = new Inbox(client, c.token, customer(c.id), "1");
    expect((await resumed.waitForText("mark")).map(bodyOf)).toEqual(["e1", "e2", "mark"]);
    // New devices replay nothing to the open ones: a second marker ends the check.
    await unaryCall(client.sendMessage.bind(client), sendReq(customer(c.id), number(phone), text("mark2")), { token: c.token });
    expect((await laptop.waitForText("mark2")).map(bodyOf)).toEqual(["e0", "e1", "e2", "mark", "mark2"]);
    for (const s of [phoneA, laptop, agent, fresh, resumed]) s.close();
  });

  it("when a customer opens another customer's inbox, then PERMISSION_DENIED", async () => {
    const c = await newCustomer();
    const other = await newCustomer();
    const spy = new Inbox(client, c.token, customer(other.id));
    await waitFor(() => spy.ended || spy.error);
    expect((spy.error as { code?: number }).code).toBe(status.PERMISSION_DENIED);
    const bad = new Inbox(client, c.token, customer(c.id), "not-a-cursor");
    await waitFor(() => bad.ended || bad.error);
    expect((bad.error as { code?: number }).code).toBe(status.INVALID_ARGUMENT);
  });

  it("when a live publish is lost, then the sweep delivers the message from the database", async () => {
    const c = await newCustomer();
    const inbox = new Inbox(client, c.token, customer(c.id));
    await inbox.waitCaughtUp();
    // Commit without any live delivery (neither to this replica's sessions nor
    // over NATS), as if the replica died between commit and publish.
    const hub = app.live;
    const original = hub.publishItems;
    hub.publishItems = () => undefined;
    try {
      await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("lost publish")), { token: bizToken });
    } finally {
      hub.publishItems = original;
    }
    expect((await inbox.waitForMessages(1)).map(bodyOf)).toEqual(["lost publish"]);
    inbox.close();
  });
});

describe("receipts and statuses", () => {
  it("when the recipient reports DELIVERED then READ, the sender's stream and the status events follow; statuses never go back", async () => {
    const c = await newCustomer();
    const bizInbox = new Inbox(client, bizToken, number(phone));
    await bizInbox.waitCaughtUp();
    const sent: SendResult[] = [];
    for (let i = 0; i < 3; i++) sent.push((await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`r${i}`), { bizOpaqueCallbackData: `cb${i}` }), { token: bizToken })).result!);
    const conversationId = sent[0]!.conversationId;
    const report = (s: MessageStatus, upToSeq: number, token = c.token) =>
      unaryCall(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId, status: s, upToSeq: String(upToSeq), messageId: "" }, { token });
    expect((await report(MessageStatus.MESSAGE_STATUS_DELIVERED, 3)).updated).toBe(3);
    expect((await report(MessageStatus.MESSAGE_STATUS_READ, 2)).updated).toBe(2);
    expect((await report(MessageStatus.MESSAGE_STATUS_DELIVERED, 3)).updated).toBe(0); // never backwards
    // Mark-as-read by message id covers earlier ones too.
    expect((await unaryCall(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "0", messageId: sent[2]!.messageId }, { token: c.token })).updated).toBe(1);
    const failed = await unaryCall(client.failMessage.bind(client), { messageId: sent[0]!.messageId, errorCode: 131026 }, { token: await env.token({ kind: "service", service: "gateway" }) });
    expect(failed.changed).toBe(false);
    expect(failed.message?.status).toBe(MessageStatus.MESSAGE_STATUS_READ);

    await waitFor(() => bizInbox.statuses().filter((s) => s.conversationId === conversationId && s.status === MessageStatus.MESSAGE_STATUS_READ).length === 3);
    const first = bizInbox.statuses().filter((s) => s.messageId === sent[0]!.messageId).map((s) => s.status);
    expect(first).toEqual([MessageStatus.MESSAGE_STATUS_SENT, MessageStatus.MESSAGE_STATUS_DELIVERED, MessageStatus.MESSAGE_STATUS_READ]);
    const events = await waitFor(async () => {
      const e = await statusEvents(sent[0]!.messageId);
      return e.length === 3 ? e : undefined;
    }, 15_000);
    expect(events.map((e) => e.status)).toEqual([MessageStatus.MESSAGE_STATUS_SENT, MessageStatus.MESSAGE_STATUS_DELIVERED, MessageStatus.MESSAGE_STATUS_READ]);
    expect(events[0]!.bizOpaqueCallbackData).toBe("cb0");

    // The business cannot report receipts for the customer.
    const err = await expectFailure(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "3", messageId: "" }, { token: bizToken });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    bizInbox.close();
  });

  it("when a receipt moves several messages of a business number, then one status event carries them all, each status with its own id and the shared fields once (STATUS_EVENTS=per_commit)", async () => {
    const c = await newCustomer();
    const sent: SendResult[] = [];
    for (let i = 0; i < 4; i++) sent.push((await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`p${i}`)), { token: bizToken })).result!);
    const read = await unaryCall(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId: sent[0]!.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "4", messageId: "" }, { token: c.token });
    expect(read.updated).toBe(4);
    const ids = sent.map((m) => `${m.messageId}:s${MessageStatus.MESSAGE_STATUS_READ}`);
    const packed = await waitFor(async () => (await statusEventsOnStream()).find((e) => expandStatuses(e).some((one) => e.statuses.length > 0 && ids.includes(one.meta?.eventId ?? ""))), 15_000);
    const whole = expandStatuses(packed);
    expect(whole.map((one) => one.meta?.eventId)).toEqual(ids);
    expect(whole.map((one) => one.messageId)).toEqual(sent.map((m) => m.messageId));
    expect(whole.map((one) => one.seq)).toEqual(["1", "2", "3", "4"]);
    expect(whole.every((one) => one.status === MessageStatus.MESSAGE_STATUS_READ && one.phoneNumberId === phone && one.customerId === c.id && one.meta?.businessId === biz && one.meta.occurredAt !== undefined)).toBe(true);
    // The enclosing event names the batch and the business and holds what the statuses share; the entries hold only their own.
    expect(packed.meta?.eventId).toBe(`${ids[0]}+4`);
    expect(packed.meta?.businessId).toBe(biz);
    expect(packed.messageId).toBe("");
    expect(packed.status).toBe(MessageStatus.MESSAGE_STATUS_READ);
    expect(packed.phoneNumberId).toBe(phone);
    expect(packed.statuses.every((one) => one.meta === undefined && one.phoneNumberId === "" && one.status === 0 && one.sender === undefined)).toBe(true);
    // No status was published twice, packed or single.
    const all = (await statusEventsOnStream()).flatMap(expandStatuses).map((one) => one.meta?.eventId);
    expect(new Set(all).size).toBe(all.length);
  });

  it("when a message fails before delivery, then FAILED sticks and later receipts do not change it", async () => {
    const c = await newCustomer();
    const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("doomed")), { token: bizToken });
    const failed = await unaryCall(client.failMessage.bind(client), { messageId: result!.messageId, errorCode: 131026 }, { token: await env.token({ kind: "service", service: "gateway" }) });
    expect(failed.changed).toBe(true);
    expect(failed.message?.errorCode).toBe(131026);
    const r = await unaryCall(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId: result!.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "1", messageId: "" }, { token: c.token });
    expect(r.updated).toBe(0);
    const got = await unaryCall(client.getMessage.bind(client), { participant: number(phone), messageId: result!.messageId }, { token: bizToken });
    expect(got.message?.status).toBe(MessageStatus.MESSAGE_STATUS_FAILED);
    const err = await expectFailure(client.failMessage.bind(client), { messageId: result!.messageId, errorCode: 1 }, { token: bizToken });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });

  it("when someone types, then the other side's stream shows it and nothing is stored", async () => {
    const c = await newCustomer();
    const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("hello")), { token: bizToken });
    const bizInbox = new Inbox(client, bizToken, number(phone));
    await bizInbox.waitCaughtUp();
    const listConversations = () => unaryCall(client.listConversations.bind(client), { participant: customer(c.id), page: undefined, filter: undefined }, { token: c.token });
    const before = await listConversations();
    await unaryCall(client.sendTyping.bind(client), { sender: customer(c.id), conversationId: result!.conversationId }, { token: c.token });
    const shown = await waitFor(() => bizInbox.events.find((e) => e.event?.$case === "typing" && e.event.value.conversationId === result!.conversationId));
    expect(shown.event).toEqual({ $case: "typing", value: { conversationId: result!.conversationId, from: customer(c.id) } });

    // Nothing stored: the conversation still holds the one message and is unchanged...
    const history = await unaryCall(client.listMessages.bind(client), { participant: customer(c.id), conversationId: result!.conversationId, page: undefined, newestFirst: false }, { token: c.token });
    expect(history.messages.map((m) => m.id)).toEqual([result!.messageId]);
    expect((await listConversations()).conversations).toEqual(before.conversations);
    // ...and a stream opened now replays no typing before it is caught up.
    const late = new Inbox(client, bizToken, number(phone));
    await late.waitCaughtUp();
    expect(late.events.filter((e) => e.event?.$case === "typing")).toEqual([]);
    bizInbox.close();
    late.close();
  });
});

describe("history", () => {
  it("when listing, then conversations come by last activity with unread counts, and messages page by seq", async () => {
    const c = await newCustomer();
    await registerBusiness(env, app, "biz_second", "pn_second");
    const second = await env.token({ kind: "business", businessId: "biz_second" });
    for (let i = 0; i < 5; i++) await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text(`h${i}`)), { token: bizToken });
    const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number("pn_second"), customer(c.id), text("latest")), { token: second });
    await unaryCall(client.reportReceipt.bind(client), { reader: customer(c.id), conversationId: result!.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "1", messageId: "" }, { token: c.token });
    const convs = await unaryCall(client.listConversations.bind(client), { participant: customer(c.id), page: { pageSize: 1, pageToken: "" }, filter: undefined }, { token: c.token });
    expect(convs.conversations[0]?.phoneNumberId).toBe("pn_second");
    expect(convs.conversations[0]?.unreadCount).toBe("0");
    const next = await unaryCall(client.listConversations.bind(client), { participant: customer(c.id), page: { pageSize: 1, pageToken: convs.page!.nextPageToken }, filter: undefined }, { token: c.token });
    expect(next.conversations[0]?.phoneNumberId).toBe(phone);
    expect(next.conversations[0]?.unreadCount).toBe("5");
    expect(next.conversations[0]?.counterpartName).toBe(`Biz ${biz}`);
    expect(next.page?.nextPageToken).toBe("");

    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await unaryCall(client.listMessages.bind(client), { participant: customer(c.id), conversationId: next.conversations[0]!.id, page: { pageSize: 2, pageToken }, newestFirst: false }, { token: c.token });
      seen.push(...page.messages.map((m) => (m.content!.kind as { value: { body: string } }).value.body));
      pageToken = page.page?.nextPageToken ?? "";
    } while (pageToken);
    expect(seen).toEqual(["h0", "h1", "h2", "h3", "h4"]);
    const newest = await unaryCall(client.listMessages.bind(client), { participant: customer(c.id), conversationId: next.conversations[0]!.id, page: { pageSize: 2, pageToken: "" }, newestFirst: true }, { token: c.token });
    expect(newest.messages.map((m) => m.seq)).toEqual(["5", "4"]);

    // The business sees only its own number's conversations; another customer sees none of them.
    const bizConvs = await unaryCall(client.listConversations.bind(client), { participant: number("pn_second"), page: undefined, filter: undefined }, { token: second });
    expect(bizConvs.conversations.every((x) => x.phoneNumberId === "pn_second")).toBe(true);
    const other = await newCustomer();
    let err = await expectFailure(client.listMessages.bind(client), { participant: customer(other.id), conversationId: result!.conversationId, page: undefined, newestFirst: false }, { token: other.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    err = await expectFailure(client.listMessages.bind(client), { participant: customer(c.id), conversationId: result!.conversationId, page: undefined, newestFirst: false }, { token: other.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    err = await expectFailure(client.getMessage.bind(client), { participant: customer(other.id), messageId: result!.messageId }, { token: other.token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    err = await expectFailure(client.listConversations.bind(client), { participant: number(phone), page: undefined, filter: undefined }, { token: second });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });

  it("when directory verifies the business, then the badge is mirrored", async () => {
    const c = await newCustomer();
    await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("badge")), { token: bizToken });
    await verifyBusiness(env, biz, phone, phoneE164, 2);
    await waitFor(() => app.directory.get(phone)?.verified === true, 10_000);
    const convs = await unaryCall(client.listConversations.bind(client), { participant: customer(c.id), page: undefined, filter: undefined }, { token: c.token });
    expect(convs.conversations[0]?.verified).toBe(true);
  });
});

describe("privacy at rest", () => {
  it("when a message is stored, then the raw row holds no plaintext; erasing the business key shreds the history", async () => {
    await registerBusiness(env, app, "biz_secret", "pn_secret");
    const token = await env.token({ kind: "business", businessId: "biz_secret" });
    const c = await newCustomer();
    const secret = `the secret recipe ${uid("s")}`;
    const { result } = await unaryCall(client.sendMessage.bind(client), sendReq(number("pn_secret"), customer(c.id), text(secret), { bizOpaqueCallbackData: "opaque-secret" }), { token });
    const raw = await app.runtime.database.pool.query<{ body: Buffer; key_id: number }>(`SELECT body, key_id FROM message WHERE id = $1`, [result!.messageId]);
    expect(raw.rows).toHaveLength(1);
    expect(raw.rows[0]!.body.includes(Buffer.from("secret recipe"))).toBe(false);
    expect(raw.rows[0]!.body.includes(Buffer.from("opaque-secret"))).toBe(false);
    const dump = await app.runtime.database.pool.query<{ t: string }>(`SELECT m::text AS t FROM message m WHERE id = $1`, [result!.messageId]);
    expect(dump.rows[0]!.t).not.toContain("recipe");
    const keyRow = await app.runtime.database.pool.query<{ wrapped_key: Buffer }>(`SELECT wrapped_key FROM business_key WHERE key_id = $1`, [raw.rows[0]!.key_id]);
    expect(keyRow.rows[0]!.wrapped_key.length).toBeGreaterThan(32); // wrapped, not the bare key

    const before = await unaryCall(client.getMessage.bind(client), { participant: customer(c.id), messageId: result!.messageId }, { token: c.token });
    expect(before.message?.content?.kind).toEqual({ $case: "text", value: { body: secret, previewUrl: false } });
    const operator = await env.token({ kind: "staff", staffId: "op_secret", roles: ["operator"] });
    const erased = await unaryCall(client.eraseBusinessKey.bind(client), { businessId: "biz_secret", reason: "the business asked" }, { token: operator });
    expect(Number(erased.shreddedMessages)).toBe(1);
    const after = await unaryCall(client.getMessage.bind(client), { participant: customer(c.id), messageId: result!.messageId }, { token: c.token });
    expect(after.message?.contentErased).toBe(true);
    expect(after.message?.content).toBeUndefined();
    // Erasure is final: nothing more is stored for the business (key-erasure.int.test.ts has the rest).
    const refused = await expectFailure(client.sendMessage.bind(client), sendReq(number("pn_secret"), customer(c.id), text("fresh start")), { token });
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    const err = await expectFailure(client.eraseBusinessKey.bind(client), { businessId: "biz_secret", reason: "x" }, { token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });
});

// Stopping and starting the service (migrations, consumers, relays) takes tens of seconds on a loaded host.
describe("restart", { timeout: 90_000 }, () => {
  it("when the service restarts mid-stream, then clients resume with their cursors, resend unacked sends, and nothing is lost or doubled", async () => {
    const c = await newCustomer();
    const inbox = new Inbox(client, c.token, customer(c.id));
    await inbox.waitCaughtUp();
    const ids = Array.from({ length: 300 }, (_, i) => `restart-${i}`);
    const acked = new Set<string>();
    const sendAll = async (cl: MessagingServiceClient, list: string[]) => {
      await Promise.all(
        list.map((id) =>
          unaryCall(cl.sendMessage.bind(cl), sendReq(number(phone), customer(c.id), text(id), { clientMessageId: id }), { token: bizToken }).then(
            () => acked.add(id),
            () => undefined,
          ),
        ),
      );
    };
    const inFlight = sendAll(client, ids);
    await waitFor(() => acked.size >= 50);
    await app.stop(); // sends in flight either commit (and may or may not be acked) or fail
    await inFlight;
    await waitFor(() => inbox.ended);
    client.close();

    app = await createMessaging(config);
    const { port } = await app.start();
    client = clientFor(MessagingServiceClient, port);
    await sendAll(client, ids.filter((id) => !acked.has(id))); // resend what was never acked, same client ids
    expect(acked.size).toBe(ids.length);

    // The marker comes last: once it is in, a gap or a duplicate before it has shown.
    await unaryCall(client.sendMessage.bind(client), sendReq(number(phone), customer(c.id), text("restart-end")), { token: bizToken });
    const resumed = new Inbox(client, c.token, customer(c.id), inbox.lastCursor());
    await resumed.waitForText("restart-end");
    const all = [...inbox.messages(), ...resumed.messages()];
    expect(all.map((m) => m.cursor)).toEqual([...ids, "restart-end"].map((_, i) => String(i + 1)));
    expect(new Set(all.map(bodyOf))).toEqual(new Set([...ids, "restart-end"]));
    const { count } = await app.runtime.db.selectFrom("message").select((eb) => eb.fn.countAll<string>().as("count")).where("recipient", "=", `c_${c.id}`).executeTakeFirstOrThrow();
    expect(Number(count)).toBe(ids.length + 1);
    resumed.close();
  });
});
