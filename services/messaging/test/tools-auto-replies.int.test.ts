import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { BusinessUpdated } from "@kontor/proto/directory/v1/events";
import { MessageReceived } from "@kontor/proto/messaging/v1/events";
import { BusinessSnapshot, type OpeningHours } from "@kontor/proto/directory/v1/business";
import type { AutoReply } from "@kontor/proto/messaging/v1/tools";
import { errorDetail } from "@kontor/service-kit/errors";
import { domainStream } from "@kontor/service-kit/nats";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { customer, number, sendReq, text } from "./factories.js";
import { useToolsService } from "./tools-fixtures.js";

/*
 * Greeting and away messages against PostgreSQL and NATS with the policy on:
 * decided by the flows' consumer from each customer message, sent through the
 * send path, hours learnt from directory's business events.
 */
const t = useToolsService("auto");
const { sql, business } = t;

/** Directory's BusinessUpdated with these hours (a newer snapshot version), and the wait until messaging stored them. */
async function publishHours(biz: { businessId: string; pn: string; phone: string }, hours: OpeningHours | undefined, version: number) {
  const nc = await t.env.nats();
  const eventId = randomUUID();
  const business = BusinessSnapshot.fromPartial({ businessId: biz.businessId, displayName: "Biz", phoneNumbers: [{ phoneNumberId: biz.pn, e164: biz.phone, displayName: "" }], hours, version: String(version) });
  await nc.jetstream().publish(`${t.env.natsPrefix}kontor.directory.business.updated.v1`, BusinessUpdated.encode({ meta: { eventId, occurredAt: new Date(), businessId: biz.businessId }, business, changedFields: ["hours"] }).finish(), { msgID: eventId });
  await waitFor(async () => Number((await sql("SELECT version FROM business_hours WHERE business_id = $1", [biz.businessId])).rows[0]?.version ?? 0) >= version);
}

/** Hours open from two hours before now to two hours after, on today's weekday in `zone`. */
function hoursAroundNow(zone: string): OpeningHours {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", weekday: "short", hour: "2-digit", minute: "2-digit" }).formatToParts(new Date()).map((p) => [p.type, p.value]));
  const weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(parts.weekday!) + 1;
  const minute = Number(parts.hour) * 60 + Number(parts.minute);
  return { timeZone: zone, weekly: [{ weekday, ranges: [{ openMinute: Math.max(0, minute - 120), closeMinute: minute + 120 }] }], exceptions: [], alwaysOpen: false };
}

const reply = (text: string, intervalMinutes = 0): AutoReply => ({ enabled: true, text, intervalMinutes });
const off: AutoReply = { enabled: false, text: "", intervalMinutes: 0 };

async function configure(biz: { businessId: string; pn: string; token: string }, greeting: AutoReply, away: AutoReply, greetingSilenceDays = 0) {
  return unaryCall(t.tools.setAutoReplies.bind(t.tools), { businessId: biz.businessId, settings: { phoneNumberId: biz.pn, greeting, away, greetingSilenceDays, updatedAt: undefined } }, { token: biz.token });
}

/** A registered customer and a way to write to the number; each message resolves once the flows' consumer has handled it. */
async function customerOf(biz: { pn: string }) {
  const { customerId: id, token } = await t.customer();
  const say = async (body: string) => {
    const sent = await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(id), number(biz.pn), text(body)), { token });
    const eventId = `${sent.result!.messageId}:received`;
    await waitFor(async () => (await sql("SELECT 1 FROM processed_events WHERE consumer = 'messaging-flows' AND event_id = $1", [eventId])).rowCount === 1, 30_000);
    return sent.result!.conversationId;
  };
  return { id, token, say };
}

/** What the number sent in the conversation, oldest first, with the automated marker. */
async function automated(biz: { pn: string; token: string }, conversationId: string): Promise<string[]> {
  const r = await unaryCall(t.messaging.listMessages.bind(t.messaging), { participant: number(biz.pn), conversationId, page: { pageSize: 100, pageToken: "" }, newestFirst: false }, { token: biz.token });
  return r.messages.filter((m) => m.sender?.kind?.$case === "phoneNumberId").map((m) => `${m.bizOpaqueCallbackData}|${m.content?.kind?.$case === "text" ? m.content.kind.value.body : "?"}`);
}

describe("greeting messages", () => {
  it("when a customer writes first, then the greeting goes once; after 13 silent days none, after 14 again", async () => {
    const biz = await business();
    await configure(biz, reply("Welcome to the gallery!"), off);
    const ana = await customerOf(biz);
    const conversation = await ana.say("hi");
    await waitFor(async () => (await automated(biz, conversation)).length === 1);
    await ana.say("are you there?");
    expect(await automated(biz, conversation)).toEqual(["auto:greeting|Welcome to the gallery!"]);

    // Age the conversation (and the greeting's record) by 13 days: not yet silent long enough.
    const age = (days: number) =>
      Promise.all([
        sql(`UPDATE message SET created_at = created_at - make_interval(days => $2) WHERE conversation_id = $1`, [conversation, days]),
        sql(`UPDATE auto_reply_sent SET sent_at = sent_at - make_interval(days => $2) WHERE customer_id = $1`, [ana.id, days]),
      ]);
    await age(13);
    await ana.say("back again");
    expect((await automated(biz, conversation)).length).toBe(1);
    await age(14);
    await ana.say("hello after a while");
    await waitFor(async () => (await automated(biz, conversation)).length === 2);
    expect(await automated(biz, conversation)).toEqual(["auto:greeting|Welcome to the gallery!", "auto:greeting|Welcome to the gallery!"]);
  });

  it("when a flow answers the first message or an agent has the conversation, then no greeting or away message", async () => {
    const biz = await business();
    await configure(biz, reply("Welcome!"), reply("We are closed."));
    await publishHours(biz, { timeZone: "Europe/Berlin", weekly: [], exceptions: [], alwaysOpen: false }, 2); // never open
    const flow = { name: "prices", triggers: [{ type: "keyword", words: ["price"] }], start: "start", states: { start: { actions: [{ type: "reply_text", text: "Prices are on our site." }] } } };
    await unaryCall(t.tools.saveFlow.bind(t.tools), { businessId: biz.businessId, definitionJson: JSON.stringify(flow) }, { token: biz.token });

    const bo = await customerOf(biz);
    const withFlow = await bo.say("price");
    await waitFor(async () => (await automated(biz, withFlow)).length >= 1);
    expect(await automated(biz, withFlow)).toEqual(["flow:prices|Prices are on our site."]);

    const cy = await customerOf(biz);
    const first = await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(cy.id), number(biz.pn), text("first")), { token: cy.token });
    const assigned = first.result!.conversationId;
    // The first message may be greeted before the assignment lands; what follows the assignment never is.
    await waitFor(async () => (await sql("SELECT 1 FROM processed_events WHERE consumer = 'messaging-flows' AND event_id = $1", [`${first.result!.messageId}:received`])).rowCount === 1, 30_000);
    const before = (await automated(biz, assigned)).length;
    await unaryCall(t.tools.assignConversation.bind(t.tools), { businessId: biz.businessId, conversationId: assigned, agentId: "agent_1" }, { token: biz.token });
    await sql(`UPDATE message SET created_at = created_at - interval '30 days' WHERE conversation_id = $1`, [assigned]);
    await sql(`DELETE FROM auto_reply_sent WHERE customer_id = $1`, [cy.id]);
    await cy.say("still there?");
    expect((await automated(biz, assigned)).length).toBe(before);
  });
});

describe("greeting messages, redelivered", () => {
  it("when a customer message is delivered again, also after a crash between the greeting's send and its record, then the customer still has one greeting", async () => {
    const biz = await business();
    await configure(biz, reply("Welcome back!"), off);
    const eve = await customerOf(biz);
    const conversation = await eve.say("hello");
    await waitFor(async () => (await automated(biz, conversation)).length === 1);
    await outboxDrained(t.app.runtime.database.pool);
    const received = (await streamMessages(t.env, "messaging", "kontor.messaging.message.received.v1")).filter((m) => MessageReceived.decode(m.data).customerId === eve.id);
    expect(received).toHaveLength(1);
    const nc = await t.env.nats();
    const js = nc.jetstream();
    const jsm = await nc.jetstreamManager();
    /** The same event as a new stream message; resolves once the flows' consumer has acknowledged it. */
    const redeliver = async () => {
      const ack = await js.publish(`${t.env.natsPrefix}kontor.messaging.message.received.v1`, received[0]!.data, { msgID: randomUUID() });
      await waitFor(async () => (await jsm.consumers.info(domainStream(t.env.natsPrefix, "messaging").name, "messaging-flows")).ack_floor.stream_seq >= ack.seq, 30_000);
    };
    const eventId = MessageReceived.decode(received[0]!.data).meta!.eventId;

    // The same event again: processed_events says it was handled.
    await redeliver();
    expect(await automated(biz, conversation)).toEqual(["auto:greeting|Welcome back!"]);

    // A crash after the send and before the commit: neither the event's mark nor the record was written.
    await sql("DELETE FROM processed_events WHERE consumer = 'messaging-flows' AND event_id = $1", [eventId]);
    await sql("DELETE FROM auto_reply_sent WHERE customer_id = $1", [eve.id]);
    await redeliver();
    expect((await sql("SELECT 1 FROM processed_events WHERE consumer = 'messaging-flows' AND event_id = $1", [eventId])).rowCount).toBe(1);
    // Decided again, sent again with the same client id: answered by the original, nothing new stored.
    expect(await automated(biz, conversation)).toEqual(["auto:greeting|Welcome back!"]);
    expect((await sql("SELECT count(*) AS n FROM auto_reply_sent WHERE customer_id = $1", [eve.id])).rows[0].n).toBe("1");
  });
});

describe("away messages", () => {
  it("when a customer writes outside the hours in the business's own time zone, then the away message, once per interval; inside them none", async () => {
    const open = await business();
    const closed = await business();
    // The same weekly hours around now in Tokyo: open there, closed for a business in New York (13–14 h behind).
    const tokyo = hoursAroundNow("Asia/Tokyo");
    await publishHours(open, tokyo, 2);
    await publishHours(closed, { ...tokyo, timeZone: "America/New_York" }, 2);
    for (const biz of [open, closed]) await configure(biz, off, reply("We are closed; we answer from 9:00.", 60));

    const inHours = await customerOf(open);
    const c1 = await inHours.say("hello?");
    expect(await automated(open, c1)).toEqual([]);

    const outside = await customerOf(closed);
    const c2 = await outside.say("hello?");
    await waitFor(async () => (await automated(closed, c2)).length === 1);
    await outside.say("anyone?");
    expect(await automated(closed, c2)).toEqual(["auto:away|We are closed; we answer from 9:00."]);

    // An older snapshot (a late or replayed event) does not replace the hours.
    await publishHours(closed, { ...tokyo, alwaysOpen: false, weekly: [] }, 1);
    expect((await sql("SELECT hours->>'timeZone' AS zone, version FROM business_hours WHERE business_id = $1", [closed.businessId])).rows[0]).toEqual({ zone: "America/New_York", version: "2" });
  });

  it("when customer messages come at the edges of the hours in the business's zone, then the minute before opening and the closing minute get the away message, the opening minute and the last open one none", async () => {
    const biz = await business();
    // Kolkata (UTC+5:30, no daylight saving): Mondays 09:00–17:30.
    await publishHours(biz, { timeZone: "Asia/Kolkata", weekly: [{ weekday: 1, ranges: [{ openMinute: 540, closeMinute: 1050 }] }], exceptions: [], alwaysOpen: false }, 2);
    // Each customer writes now (opening the window the answer needs) while nothing is configured.
    const people = await Promise.all([0, 1, 2, 3].map(() => customerOf(biz)));
    const conversations = await Promise.all(people.map((p) => p.say("hello?")));
    await configure(biz, off, reply("We are closed."));
    await outboxDrained(t.app.runtime.database.pool);
    const received = (await streamMessages(t.env, "messaging", "kontor.messaging.message.received.v1")).map((m) => MessageReceived.decode(m.data));
    const nc = await t.env.nats();
    /** The customer's message once more as the flows' consumer reads it, written at `at` (a new event); resolves once it is handled. */
    const writesAt = async (who: { id: string }, at: string) => {
      const e = received.find((r) => r.customerId === who.id)!;
      const when = new Date(at);
      const again = { ...e, meta: { ...e.meta!, eventId: randomUUID(), occurredAt: when }, message: { ...e.message!, createdAt: when } };
      await nc.jetstream().publish(`${t.env.natsPrefix}kontor.messaging.message.received.v1`, MessageReceived.encode(again).finish(), { msgID: randomUUID() });
      await waitFor(async () => (await sql("SELECT 1 FROM processed_events WHERE consumer = 'messaging-flows' AND event_id = $1", [again.meta.eventId])).rowCount === 1, 30_000);
    };
    // Monday 2 November 2026, Kolkata time: 08:59, 09:00, 17:29, 17:30.
    const instants = ["2026-11-02T03:29:00Z", "2026-11-02T03:30:00Z", "2026-11-02T11:59:59Z", "2026-11-02T12:00:00Z"];
    for (const [i, at] of instants.entries()) await writesAt(people[i]!, at);
    const answered = await Promise.all(conversations.map(async (c) => (await automated(biz, c)).length));
    expect(answered).toEqual([1, 0, 0, 1]);
    expect(await automated(biz, conversations[0]!)).toEqual(["auto:away|We are closed."]);
  });

  it("when the business has no hours, then no away message", async () => {
    const biz = await business();
    await configure(biz, off, reply("Closed."));
    const dee = await customerOf(biz);
    const c = await dee.say("hello");
    expect(await automated(biz, c)).toEqual([]);
  });
});

describe("SetAutoReplies and GetAutoReplies", () => {
  it("when settings are bad or name another business's number, then INVALID_ARGUMENT naming the field or NOT_FOUND, and nothing changes", async () => {
    const biz = await business();
    const other = await business();
    expect((await unaryCall(t.tools.getAutoReplies.bind(t.tools), { businessId: biz.businessId, phoneNumberId: biz.pn }, { token: biz.token })).settings).toMatchObject({ greeting: { enabled: false }, away: { enabled: false }, greetingSilenceDays: 14 });
    const saved = await configure(biz, reply("Hi!"), reply("Closed.", 30), 7);
    expect(saved.settings).toMatchObject({ greeting: { enabled: true, text: "Hi!", intervalMinutes: 1440 }, away: { intervalMinutes: 30 }, greetingSilenceDays: 7 });

    const bad = await expectFailure(t.tools.setAutoReplies.bind(t.tools), { businessId: biz.businessId, settings: { phoneNumberId: biz.pn, greeting: reply(""), away: off, greetingSilenceDays: 0, updatedAt: undefined } }, { token: biz.token });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(bad)?.field).toBe("settings.greeting.text");
    const days = await expectFailure(t.tools.setAutoReplies.bind(t.tools), { businessId: biz.businessId, settings: { phoneNumberId: biz.pn, greeting: off, away: off, greetingSilenceDays: 366, updatedAt: undefined } }, { token: biz.token });
    expect(errorDetail(days)?.field).toBe("settings.greeting_silence_days");
    const theirs = await expectFailure(t.tools.setAutoReplies.bind(t.tools), { businessId: other.businessId, settings: { phoneNumberId: biz.pn, greeting: off, away: off, greetingSilenceDays: 0, updatedAt: undefined } }, { token: other.token });
    expect(theirs.code).toBe(status.NOT_FOUND);
    expect((await expectFailure(t.tools.getAutoReplies.bind(t.tools), { businessId: other.businessId, phoneNumberId: biz.pn }, { token: other.token })).code).toBe(status.NOT_FOUND);
    expect((await expectFailure(t.tools.getAutoReplies.bind(t.tools), { businessId: other.businessId, phoneNumberId: biz.pn }, { token: biz.token })).code).toBe(status.PERMISSION_DENIED);

    expect((await unaryCall(t.tools.getAutoReplies.bind(t.tools), { businessId: biz.businessId, phoneNumberId: biz.pn }, { token: biz.token })).settings).toMatchObject({ greeting: { text: "Hi!" }, away: { text: "Closed.", intervalMinutes: 30 }, greetingSilenceDays: 7 });
  });
});
