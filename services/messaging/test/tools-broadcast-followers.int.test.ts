import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FollowChanged } from "@kontor/proto/directory/v1/events";
import { ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { TemplateCategory } from "@kontor/proto/messaging/v1/template";
import { BroadcastStatus } from "@kontor/proto/messaging/v1/tools";
import { domainStream } from "@kontor/service-kit/nats";
import { unaryCall, waitFor } from "@kontor/testkit/grpc";
import { FOLLOWS_CONSUMER } from "../src/events/follows.js";
import { customer, number, sendReq } from "./factories.js";
import { approvedTemplate, broadcastReq, toCustomers, useToolsService, type TestBusiness } from "./tools-fixtures.js";

/*
 * Broadcasts to a business's followers with a marketing opt-in (follows
 * learnt from directory's follow.changed events), and a broadcast's funnel,
 * against PostgreSQL and NATS with the policy on.
 */
const t = useToolsService("fol");

/** A follow or unfollow as directory's outbox publishes it; resolves once messaging's consumer has acknowledged it. */
async function follow(biz: { businessId: string }, customerId: string, following: boolean, at: Date, eventId = randomUUID()) {
  const nc = await t.env.nats();
  const ack = await nc.jetstream().publish(
    `${t.env.natsPrefix}kontor.directory.follow.changed.v1`,
    FollowChanged.encode({ meta: { eventId, occurredAt: at, businessId: biz.businessId }, businessId: biz.businessId, customerId, following, followerCount: "1" }).finish(),
    // A message id of its own: a redelivery of the same event reaches the consumer again.
    { msgID: randomUUID() },
  );
  const jsm = await nc.jetstreamManager();
  await waitFor(async () => (await jsm.consumers.info(domainStream(t.env.natsPrefix, "directory").name, FOLLOWS_CONSUMER)).ack_floor.stream_seq >= ack.seq, 30_000);
  return eventId;
}

async function optIn(biz: TestBusiness, customerId: string) {
  await unaryCall(t.messaging.setMarketingConsent.bind(t.messaging), { customerId, businessId: biz.businessId, optIn: true, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "ticked the newsletter box" }, { token: biz.token });
}

const messagesTo = async (customerId: string) => Number((await t.sql("SELECT count(*) AS n FROM message WHERE recipient = $1", [`c_${customerId}`])).rows[0].n);

async function completed(biz: TestBusiness, broadcastId: string) {
  return waitFor(async () => {
    const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId }, { token: biz.token })).broadcast!;
    return b.status === BroadcastStatus.BROADCAST_STATUS_COMPLETED ? b : undefined;
  }, 30_000);
}

async function recipientsOf(biz: TestBusiness, broadcastId: string): Promise<string[]> {
  const r = await unaryCall(t.tools.listBroadcastRecipients.bind(t.tools), { businessId: biz.businessId, broadcastId, page: undefined, state: 0 }, { token: biz.token });
  return r.recipients.map((x) => x.customerId).sort();
}

describe("a broadcast to opted-in followers", () => {
  it("when a business broadcasts to its followers, then those with a marketing opt-in get it once; no opt-in, an opt-out since, an unfollow and another business's followers get nothing, whatever order the follow events came in", async () => {
    const biz = await t.business();
    const other = await t.business();
    const template = await approvedTemplate(t.port, biz, TemplateCategory.TEMPLATE_CATEGORY_MARKETING);
    const [ana, bo, cy, di, eve, fay, gus] = await Promise.all(["Ana", "Bo", "Cy", "Di", "Eve", "Fay", "Gus"].map((name) => t.customer(name)));
    const t0 = Date.now();
    const at = (s: number) => new Date(t0 + s * 1000);

    // Ana follows and opts in; the same event delivered again changes nothing.
    const anaFollows = await follow(biz, ana!.customerId, true, at(1));
    await follow(biz, ana!.customerId, true, at(1), anaFollows);
    await optIn(biz, ana!.customerId);
    // Bo follows without an opt-in.
    await follow(biz, bo!.customerId, true, at(1));
    // Cy opted in and unfollowed; the older follow arrives after the unfollow.
    await optIn(biz, cy!.customerId);
    await follow(biz, cy!.customerId, false, at(3));
    await follow(biz, cy!.customerId, true, at(2));
    // Di follows another business only (and opted in with both).
    await follow(other, di!.customerId, true, at(1));
    await optIn(biz, di!.customerId);
    await optIn(other, di!.customerId);
    // Eve follows, opted in, then opted out.
    await follow(biz, eve!.customerId, true, at(1));
    await optIn(biz, eve!.customerId);
    await unaryCall(t.messaging.setMarketingConsent.bind(t.messaging), { customerId: eve!.customerId, businessId: biz.businessId, optIn: false, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token: eve!.token });
    // Fay followed, unfollowed and followed again, the events arriving last first.
    await follow(biz, fay!.customerId, true, at(3));
    await follow(biz, fay!.customerId, true, at(1));
    await follow(biz, fay!.customerId, false, at(2));
    await optIn(biz, fay!.customerId);
    // Gus is opted in but never followed.
    await optIn(biz, gus!.customerId);

    const created = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { optedInFollowers: true, start: true }), { token: biz.token })).broadcast!;
    expect(await recipientsOf(biz, created.id)).toEqual([ana!.customerId, fay!.customerId].sort());
    const done = await completed(biz, created.id);
    expect(done.counts).toMatchObject({ total: "2", accepted: "2", failed: "0" });
    expect(await messagesTo(ana!.customerId)).toBe(1);
    expect(await messagesTo(fay!.customerId)).toBe(1);
    for (const c of [bo, cy, di, eve, gus]) expect(await messagesTo(c!.customerId)).toBe(0);

    // The other business's followers segment holds its own follower only; a label and the followers together name each customer once.
    const theirs = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(other, await approvedTemplate(t.port, other), { optedInFollowers: true }), { token: other.token })).broadcast!;
    expect(await recipientsOf(other, theirs.id)).toEqual([di!.customerId]);
    const label = (await unaryCall(t.tools.createLabel.bind(t.tools), { businessId: biz.businessId, name: "Regulars", color: "#112233" }, { token: biz.token })).label!;
    await unaryCall(t.tools.setCustomerLabels.bind(t.tools), { businessId: biz.businessId, customerId: ana!.customerId, addLabelIds: [label.id], removeLabelIds: [] }, { token: biz.token });
    const both = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { optedInFollowers: true, labelId: label.id, recipients: toCustomers([fay!.customerId]) }), { token: biz.token })).broadcast!;
    expect(await recipientsOf(biz, both.id)).toEqual([ana!.customerId, fay!.customerId].sort());
  });

  it("when a following customer's data is erased, then its follows are gone, a later unfollow from directory stores nothing, and no followers broadcast reaches it", async () => {
    const biz = await t.business();
    const template = await approvedTemplate(t.port, biz, TemplateCategory.TEMPLATE_CATEGORY_MARKETING);
    const hal = await t.customer("Hal");
    await follow(biz, hal.customerId, true, new Date());
    await optIn(biz, hal.customerId);
    expect((await t.sql("SELECT count(*) AS n FROM customer_follow WHERE customer_id = $1", [hal.customerId])).rows[0].n).toBe("1");

    await unaryCall(t.messaging.eraseCustomerData.bind(t.messaging), { customerId: hal.customerId, reason: "delete my account" }, { token: hal.token });
    expect((await t.sql("SELECT count(*) AS n FROM customer_follow WHERE customer_id = $1", [hal.customerId])).rows[0].n).toBe("0");
    // Directory's unfollow for the erasure, and a late follow: neither leaves a trace.
    await follow(biz, hal.customerId, false, new Date());
    await follow(biz, hal.customerId, true, new Date(Date.now() - 60_000));
    expect((await t.sql("SELECT count(*) AS n FROM customer_follow WHERE customer_id = $1", [hal.customerId])).rows[0].n).toBe("0");
    const b = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { optedInFollowers: true }), { token: biz.token })).broadcast!;
    expect(b.counts!.total).toBe("0");
  });
});

describe("a broadcast's funnel", () => {
  it("when recipients get, read and tap a broadcast message, then GetBroadcast counts accepted, failed, delivered, read and clicked recipients, each once", async () => {
    const biz = await t.business();
    const template = await approvedTemplate(t.port, biz);
    const people = await Promise.all(["Ina", "Jo", "Kai", "Lu"].map((name) => t.customer(name)));
    const [ina, jo, kai] = people as [(typeof people)[number], (typeof people)[number], (typeof people)[number]];
    const recipients = [...toCustomers(people.map((p) => p.customerId)), { to: { $case: "e164" as const, value: "+4915000000001" }, components: [] }];
    const created = (await unaryCall(t.tools.createBroadcast.bind(t.tools), broadcastReq(biz, template, { recipients, start: true }), { token: biz.token })).broadcast!;
    await completed(biz, created.id);
    const sent = new Map((await t.sql("SELECT customer_id, message_id FROM broadcast_recipient WHERE broadcast_id = $1 AND state = 2", [created.id])).rows.map((r) => [r.customer_id as string, r.message_id as string]));
    const conversationOf = async (c: { customerId: string }) => (await t.sql("SELECT conversation_id FROM message WHERE id = $1", [sent.get(c.customerId)])).rows[0].conversation_id as string;
    const receipt = async (c: { customerId: string; token: string }, status: number) =>
      unaryCall(t.messaging.reportReceipt.bind(t.messaging), { reader: customer(c.customerId), conversationId: await conversationOf(c), status, upToSeq: "0", messageId: sent.get(c.customerId)! }, { token: c.token });
    await receipt(ina, 3); // delivered
    await receipt(jo, 4); // read
    await receipt(kai, 4);
    // Kai taps a quick-reply button of the broadcast message, twice: one click.
    const tap = { kind: { $case: "interactive" as const, value: { header: undefined, body: "", footer: "", action: { $case: "buttonReply" as const, value: { id: "more", title: "Tell me more" } } } } };
    for (let i = 0; i < 2; i++) await unaryCall(t.messaging.sendMessage.bind(t.messaging), sendReq(customer(kai.customerId), number(biz.pn), tap, { context: { messageId: sent.get(kai.customerId)! } }), { token: kai.token });

    const funnel = await waitFor(async () => {
      const b = (await unaryCall(t.tools.getBroadcast.bind(t.tools), { businessId: biz.businessId, broadcastId: created.id }, { token: biz.token })).broadcast!;
      return b.counts!.clicked === "1" && b.counts!.read === "2" && b.counts!.delivered === "3" ? b.counts : undefined;
    }, 30_000);
    expect(funnel).toEqual({ total: "5", pending: "0", accepted: "4", failed: "1", delivered: "3", read: "2", clicked: "1" });
  });
});
