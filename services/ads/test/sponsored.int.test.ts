import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { AdsServiceClient, CampaignObjective, SponsoredOutcome, type Campaign } from "@kontor/proto/ads/v1/ads_service";
import { BusinessRegistered, FollowChanged } from "@kontor/proto/directory/v1/events";
import { MessageStatusChanged } from "@kontor/proto/messaging/v1/events";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import type { AdsApp } from "../src/app.js";
import type { SponsoredSender } from "../src/domain/sponsored-service.js";
import { buildCreative, buildTargeting } from "./factories.js";
import { DAY, activeCampaign, cpm, manualClock, publish, publishMarketing, startAds } from "./helpers.js";

let env: TestEnv;
let app: AdsApp;
let client: AdsServiceClient;
let reviewer: string;
const clock = manualClock(Date.parse("2026-12-07T10:00:00Z"));
/** Stands in for messaging's SendMessage: records each send, refuses the customers listed. */
const sent: { customerId: string; phoneNumberId: string; templateName: string; clientMessageId: string }[] = [];
const refuse = new Set<string>();
const sender: SponsoredSender = {
  async send(m) {
    if (refuse.has(m.customerId)) return { refused: "131049: healthy ecosystem limit" };
    sent.push({ customerId: m.customerId, phoneNumberId: m.phoneNumberId, templateName: m.templateName, clientMessageId: m.clientMessageId });
    return { messageId: `wamid.${randomUUID()}` };
  },
};

beforeAll(async () => {
  env = await createTestEnv();
  app = await startAds(env, { ADS_SPONSORED_WEEKLY_CAP: "2" }, { now: clock.now, sponsoredSender: sender });
  const { port } = await app.start();
  client = clientFor(AdsServiceClient, port);
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
  for (const b of ["biz_a", "biz_b", "biz_c", "biz_f"]) {
    const eventId = randomUUID();
    const data = BusinessRegistered.encode(BusinessRegistered.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: b }, business: { businessId: b, phoneNumbers: [{ phoneNumberId: `pn_${b}` }] } })).finish();
    await publish(env, "directory", "kontor.directory.business.registered.v1", data, eventId);
  }
  await waitFor(async () => (await app.runtime.db.selectFrom("business_number").select("business_id").execute()).length === 4);
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

async function sponsoredCampaign(businessId: string, targeting = buildTargeting()): Promise<{ campaign: Campaign; token: string }> {
  const token = await env.token({ kind: "business", businessId });
  const campaign = await activeCampaign(client, token, reviewer, clock.ms, {
    businessId,
    objective: CampaignObjective.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
    bid: cpm("100"),
    creatives: [buildCreative({ templateName: "winter_sale", templateLanguage: "en" })],
    targeting,
  });
  return { campaign, token };
}

const send = async (c: { campaign: Campaign; token: string }, customerIds: string[]) =>
  (await unaryCall(client.sendSponsoredMessages.bind(client), { campaignId: c.campaign.id, customerIds }, { token: c.token })).results.map((r) => [r.customerId, r.outcome]);

async function marketing(customerId: string, businessId: string, optedIn: boolean): Promise<void> {
  clock.advance(1);
  await publishMarketing(env, customerId, businessId, optedIn, clock.now());
  await waitFor(async () => (await app.runtime.db.selectFrom("marketing_consent").select("opted_in").where("customer_id", "=", customerId).where("business_id", "=", businessId).executeTakeFirst())?.opted_in === optedIn);
}

describe("SendSponsoredMessages", () => {
  it("when customers lack an opt-in, opted out again or stopped the business, then nothing is sent to them; the opted-in one gets it once, from the business's number", async () => {
    const a = await sponsoredCampaign("biz_a");
    await marketing("c1", "biz_a", true);
    await marketing("c3", "biz_a", true);
    await marketing("c4", "biz_a", true);
    await marketing("c4", "biz_a", false);
    const customer3 = await env.token({ kind: "customer", customerId: "c3" });
    await unaryCall(client.stopSponsoredMessages.bind(client), { customerId: "c3", businessId: "biz_a" }, { token: customer3 });
    expect(await send(a, ["c1", "c2", "c3", "c4"])).toEqual([
      ["c1", SponsoredOutcome.SPONSORED_OUTCOME_SENT],
      ["c2", SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN],
      ["c3", SponsoredOutcome.SPONSORED_OUTCOME_STOPPED],
      ["c4", SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN],
    ]);
    expect(sent.filter((s) => s.clientMessageId.includes(a.campaign.id))).toEqual([{ customerId: "c1", phoneNumberId: "pn_biz_a", templateName: "winter_sale", clientMessageId: `ads:${a.campaign.id}:c1` }]);
    expect(await send(a, ["c1"])).toEqual([["c1", SponsoredOutcome.SPONSORED_OUTCOME_ALREADY_SENT]]);
  });

  it("when a customer got 2 sponsored messages this week from any businesses, then a third waits until the first is 7 days old", async () => {
    const [x, y, z] = [await sponsoredCampaign("biz_a"), await sponsoredCampaign("biz_b"), await sponsoredCampaign("biz_c")];
    for (const b of ["biz_a", "biz_b", "biz_c"]) await marketing("w1", b, true);
    const first = clock.ms;
    expect(await send(x, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    clock.advance(DAY);
    expect(await send(y, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    clock.set(first + 7 * DAY - 1);
    expect(await send(z, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_WEEKLY_CAP]]);
    expect(sent.filter((s) => s.customerId === "w1")).toHaveLength(2);
    clock.set(first + 7 * DAY);
    expect(await send(z, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
  });

  it("when the customer stops every business with one tap, then no business reaches them", async () => {
    const b = await sponsoredCampaign("biz_b");
    await marketing("s1", "biz_b", true);
    const token = await env.token({ kind: "customer", customerId: "s1" });
    await unaryCall(client.stopSponsoredMessages.bind(client), { customerId: "s1", businessId: "" }, { token });
    expect(await send(b, ["s1"])).toEqual([["s1", SponsoredOutcome.SPONSORED_OUTCOME_STOPPED]]);
    const other = await env.token({ kind: "customer", customerId: "someone_else" });
    expect((await expectFailure(client.stopSponsoredMessages.bind(client), { customerId: "s1", businessId: "" }, { token: other })).code).toBe(status.PERMISSION_DENIED);
  });

  it("when the campaign is for followers, then only customers who follow the business get it", async () => {
    const f = await sponsoredCampaign("biz_f", buildTargeting({ followersOnly: true }));
    await marketing("f1", "biz_f", true);
    expect(await send(f, ["f1"])).toEqual([["f1", SponsoredOutcome.SPONSORED_OUTCOME_NOT_FOLLOWING]]);
    const eventId = randomUUID();
    await publish(env, "directory", "kontor.directory.follow.changed.v1", FollowChanged.encode({ meta: { eventId, occurredAt: clock.now(), businessId: "biz_f" }, businessId: "biz_f", customerId: "f1", following: true, followerCount: "1" }).finish(), eventId);
    await waitFor(async () => (await app.runtime.db.selectFrom("follower").select("following").where("customer_id", "=", "f1").executeTakeFirst())?.following === true);
    expect(await send(f, ["f1"])).toEqual([["f1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
  });

  it("when messaging refuses, then the outcome is REFUSED and the customer's weekly slot is not spent", async () => {
    const [p, q] = [await sponsoredCampaign("biz_a"), await sponsoredCampaign("biz_b")];
    await marketing("r1", "biz_a", true);
    await marketing("r1", "biz_b", true);
    refuse.add("r1");
    expect(await send(p, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_REFUSED]]);
    refuse.delete("r1");
    expect(await send(p, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    expect(await send(q, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
  });

  it("when messaging reports delivery and read, then the campaign's stats count them", async () => {
    const d = await sponsoredCampaign("biz_c");
    await marketing("d1", "biz_c", true);
    await send(d, ["d1"]);
    const row = await app.runtime.db.selectFrom("sponsored_send").select("message_id").where("campaign_id", "=", d.campaign.id).executeTakeFirstOrThrow();
    for (const s of [MessageStatus.MESSAGE_STATUS_DELIVERED, MessageStatus.MESSAGE_STATUS_READ]) {
      const eventId = randomUUID();
      await publish(env, "messaging", "kontor.messaging.message.status.v1", MessageStatusChanged.encode(MessageStatusChanged.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: "biz_c" }, messageId: row.message_id!, status: s })).finish(), eventId);
    }
    await waitFor(async () => (await app.sponsored.stats(d.campaign.id)).read === 1);
    expect(await app.sponsored.stats(d.campaign.id)).toEqual({ read: 1 });
    const day = clock.now().toISOString().slice(0, 10);
    const { days } = await unaryCall(client.getCampaignReport.bind(client), { campaignId: d.campaign.id, fromDay: day, toDay: day }, { token: d.token });
    expect(days).toMatchObject([{ day, messagesSent: "1", messagesDelivered: "1", messagesRead: "1" }]);
  });

  it("when messaging packs a commit's statuses into one event, then each sponsored message in it counts", async () => {
    const d = await sponsoredCampaign("biz_c");
    await marketing("k1", "biz_c", true);
    await marketing("k2", "biz_c", true);
    await send(d, ["k1", "k2"]);
    const rows = await app.runtime.db.selectFrom("sponsored_send").select("message_id").where("campaign_id", "=", d.campaign.id).execute();
    expect(rows).toHaveLength(2);
    const one = (messageId: string) => MessageStatusChanged.fromPartial({ meta: { eventId: `${messageId}:s3`, occurredAt: new Date(), businessId: "biz_c" }, messageId, status: MessageStatus.MESSAGE_STATUS_DELIVERED });
    // One event, as messaging's STATUS_EVENTS=per_commit sends it: the statuses inside, a status of another business's message among them.
    const eventId = randomUUID();
    const packed = MessageStatusChanged.fromPartial({ meta: { eventId, occurredAt: new Date(), businessId: "biz_c" }, statuses: [...rows.map((r) => one(r.message_id!)), one("not-sponsored")] });
    await publish(env, "messaging", "kontor.messaging.message.status.v1", MessageStatusChanged.encode(packed).finish(), eventId);
    await waitFor(async () => (await app.sponsored.stats(d.campaign.id)).delivered === 2);
    expect(await app.sponsored.stats(d.campaign.id)).toEqual({ delivered: 2 });
  });

  it("when the campaign is not an active sponsored-message campaign, or belongs to another business, then FAILED_PRECONDITION or PERMISSION_DENIED", async () => {
    const a = await sponsoredCampaign("biz_a");
    await unaryCall(client.pauseCampaign.bind(client), { campaignId: a.campaign.id }, { token: a.token });
    expect((await expectFailure(client.sendSponsoredMessages.bind(client), { campaignId: a.campaign.id, customerIds: ["c1"] }, { token: a.token })).code).toBe(status.FAILED_PRECONDITION);
    const intruder = await env.token({ kind: "business", businessId: "biz_b" });
    expect((await expectFailure(client.sendSponsoredMessages.bind(client), { campaignId: a.campaign.id, customerIds: ["c1"] }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
  });
});
