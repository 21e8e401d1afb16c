import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes, randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { AdsServiceClient, BidKind, CampaignObjective, SponsoredOutcome, type Campaign, type CreateCampaignRequest } from "@kontor/proto/ads/v1/ads_service";
import { SpendRecorded } from "@kontor/proto/ads/v1/events";
import { BusinessRegistered, FollowChanged } from "@kontor/proto/directory/v1/events";
import { BusinessSnapshot } from "@kontor/proto/directory/v1/business";
import { ConsentSource } from "@kontor/proto/messaging/v1/consent";
import { MessageStatus, type Message } from "@kontor/proto/messaging/v1/message";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { TemplateCategory, TemplateComponentType, TemplateHeaderFormat, TemplateParameterFormat } from "@kontor/proto/messaging/v1/template";
import { TemplateServiceClient } from "@kontor/proto/messaging/v1/template_service";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { createMessaging, type MessagingApp } from "@kontor/messaging/app";
import { loadConfig as loadMessagingConfig } from "@kontor/messaging/config";
import type { AdsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildCreateCampaign, buildCreative, buildTargeting } from "./factories.js";
import { DAY, activeCampaign, cpm, manualClock, publish, startAds } from "./helpers.js";

/*
 * Sponsored messages end to end: the real messaging service (in-process, as
 * its own tests and the gateway's start it) takes ads' sends as
 * service:ads, applies its own rules, and reports the opt-ins, statuses and
 * replies that ads counts; ads and messaging share the test's PostgreSQL
 * database (a schema each) and NATS prefix, as in a deployment.
 */
let env: TestEnv;
let messaging: MessagingApp;
let chat: MessagingServiceClient;
let templates: TemplateServiceClient;
let app: AdsApp;
let client: AdsServiceClient;
let reviewer: string;
let onboarding: string;
const clock = manualClock(Date.now());
const TEMPLATE = "winter_sale";
const BUSINESSES = ["biz_a", "biz_b", "biz_c", "biz_f"];

beforeAll(async () => {
  env = await createTestEnv();
  const adsKeys = await generateSigningKeys(`ads-${randomBytes(3).toString("hex")}`);
  const trusted = JSON.stringify([...(JSON.parse(env.authPublicKeys) as object[]), adsKeys.publicJwk]);
  messaging = await createMessaging(loadMessagingConfig(env.env({ AUTH_PUBLIC_KEYS: trusted, MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), INBOX_SWEEP_MS: "300" })));
  const { port: messagingPort } = await messaging.start();
  chat = clientFor(MessagingServiceClient, messagingPort);
  templates = clientFor(TemplateServiceClient, messagingPort);
  app = await startAds(env, { ADS_SPONSORED_WEEKLY_CAP: "2", MESSAGING_ADDR: `127.0.0.1:${messagingPort}`, ADS_SIGNING_KEY: JSON.stringify(adsKeys.privateJwk) }, { now: clock.now });
  const { port } = await app.start();
  client = clientFor(AdsServiceClient, port);
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
  onboarding = await env.token({ kind: "service", service: "onboarding" });
  // Directory's business events reach both services: each business's number.
  for (const b of BUSINESSES) {
    const eventId = randomUUID();
    const business = BusinessSnapshot.fromPartial({ businessId: b, displayName: `Biz ${b}`, category: "retail", country: "DE", phoneNumbers: [{ phoneNumberId: `pn_${b}`, e164: e164(), displayName: b }], updatedAt: new Date(), version: "1" });
    await publish(env, "directory", "kontor.directory.business.registered.v1", BusinessRegistered.encode({ meta: { eventId, occurredAt: new Date(), businessId: b }, business }).finish(), eventId);
  }
  await waitFor(async () => BUSINESSES.every((b) => messaging.directory.get(`pn_${b}`)) && (await app.runtime.db.selectFrom("business_number").select("business_id").execute()).length === BUSINESSES.length);
  // Each business's approved MARKETING template (messaging's automatic review approves plain wording).
  for (const b of BUSINESSES) {
    await unaryCall(
      templates.createTemplate.bind(templates),
      {
        businessId: b,
        name: TEMPLATE,
        language: "en",
        category: TemplateCategory.TEMPLATE_CATEGORY_MARKETING,
        parameterFormat: TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_UNSPECIFIED,
        components: [{ type: TemplateComponentType.TEMPLATE_COMPONENT_TYPE_BODY, format: TemplateHeaderFormat.TEMPLATE_HEADER_FORMAT_UNSPECIFIED, text: "Our winter sale starts today: 20% off everything.", example: undefined, buttons: [] }],
      },
      { token: await env.token({ kind: "business", businessId: b }) },
    );
  }
});

afterAll(async () => {
  client?.close();
  chat?.close();
  templates?.close();
  await app?.stop();
  await messaging?.stop();
  await env?.cleanup();
});

let n = 0;
function e164(): string {
  return `+4917${String(Date.now() % 1e6).padStart(6, "0")}${String(++n).padStart(3, "0")}`;
}

/** A customer known to messaging (as onboarding registers it); returns its token. */
async function customer(id: string): Promise<string> {
  await unaryCall(chat.upsertCustomer.bind(chat), { customerId: id, e164: e164(), profileName: "Ana", settings: undefined }, { token: onboarding });
  return env.token({ kind: "customer", customerId: id });
}

async function sponsoredCampaign(businessId: string, over: Partial<CreateCampaignRequest> = {}): Promise<{ campaign: Campaign; token: string }> {
  const token = await env.token({ kind: "business", businessId });
  const campaign = await activeCampaign(client, token, reviewer, clock.ms, {
    businessId,
    objective: CampaignObjective.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
    bid: cpm("100"),
    creatives: [buildCreative({ templateName: TEMPLATE, templateLanguage: "en" })],
    targeting: buildTargeting(),
    ...over,
  });
  return { campaign, token };
}

const send = async (c: { campaign: Campaign; token: string }, customerIds: string[]) =>
  (await unaryCall(client.sendSponsoredMessages.bind(client), { campaignId: c.campaign.id, customerIds }, { token: c.token })).results;
const outcomes = async (c: { campaign: Campaign; token: string }, customerIds: string[]) => (await send(c, customerIds)).map((r) => [r.customerId, r.outcome]);

/** The customer's opt-in or opt-out through messaging's own RPC; waits until ads heard messaging's consent event. */
async function marketing(customerId: string, token: string, businessId: string, optIn: boolean): Promise<void> {
  await unaryCall(chat.setMarketingConsent.bind(chat), { customerId, businessId, optIn, source: ConsentSource.CONSENT_SOURCE_RPC, proof: "" }, { token });
  await waitFor(async () => (await app.runtime.db.selectFrom("marketing_consent").select("opted_in").where("customer_id", "=", customerId).where("business_id", "=", businessId).executeTakeFirst())?.opted_in === optIn);
}

/** The conversations messaging holds for the customer, by business. */
async function conversationsOf(customerId: string, token: string): Promise<string[]> {
  const { conversations } = await unaryCall(chat.listConversations.bind(chat), { participant: { kind: { $case: "customerId", value: customerId } }, page: undefined, filter: undefined }, { token });
  return conversations.map((c) => c.businessId).sort();
}

describe("SendSponsoredMessages through messaging", () => {
  it("when customers lack an opt-in, opted out again (STOP) or stopped the business, then messaging never gets a message for them; the opted-in one gets the template once, from the business's number", async () => {
    const a = await sponsoredCampaign("biz_a");
    const [t1, t2, t3, t4] = [await customer("c1"), await customer("c2"), await customer("c3"), await customer("c4")];
    await marketing("c1", t1, "biz_a", true);
    await marketing("c3", t3, "biz_a", true);
    await marketing("c4", t4, "biz_a", true);
    await marketing("c4", t4, "biz_a", false);
    await unaryCall(client.stopSponsoredMessages.bind(client), { customerId: "c3", businessId: "biz_a" }, { token: t3 });
    const results = await send(a, ["c1", "c2", "c3", "c4"]);
    expect(results.map((r) => [r.customerId, r.outcome])).toEqual([
      ["c1", SponsoredOutcome.SPONSORED_OUTCOME_SENT],
      ["c2", SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN],
      ["c3", SponsoredOutcome.SPONSORED_OUTCOME_STOPPED],
      ["c4", SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN],
    ]);
    // In messaging: the customer has the template message from biz_a's number; the others have no conversation at all.
    const { message } = await unaryCall(chat.getMessage.bind(chat), { participant: { kind: { $case: "customerId", value: "c1" } }, messageId: results[0]!.messageId }, { token: t1 });
    expect(message?.sender?.kind).toEqual({ $case: "phoneNumberId", value: "pn_biz_a" });
    expect(message?.content?.kind?.$case === "template" && message.content.kind.value.name).toBe(TEMPLATE);
    expect(await conversationsOf("c1", t1)).toEqual(["biz_a"]);
    for (const [id, token] of [["c2", t2], ["c3", t3], ["c4", t4]] as const) expect(await conversationsOf(id, token)).toEqual([]);
    expect(await outcomes(a, ["c1"])).toEqual([["c1", SponsoredOutcome.SPONSORED_OUTCOME_ALREADY_SENT]]);

    // The customer answers STOP in the chat: messaging records the opt-out, and ads refuses from then on.
    const b = await sponsoredCampaign("biz_a");
    await unaryCall(chat.sendMessage.bind(chat), { sender: { kind: { $case: "customerId", value: "c1" } }, recipient: { kind: { $case: "phoneNumberId", value: "pn_biz_a" } }, to: "", clientMessageId: "stop-c1", content: { kind: { $case: "text", value: { body: "STOP", previewUrl: false } } }, context: undefined, bizOpaqueCallbackData: "", referral: undefined }, { token: t1 });
    await waitFor(async () => (await app.runtime.db.selectFrom("marketing_consent").select("opted_in").where("customer_id", "=", "c1").where("business_id", "=", "biz_a").executeTakeFirst())?.opted_in === false);
    expect(await outcomes(b, ["c1"])).toEqual([["c1", SponsoredOutcome.SPONSORED_OUTCOME_NOT_OPTED_IN]]);
  });

  it("when a customer got 2 sponsored messages this week from any businesses, then a third business's waits until the first is 7 days old; messaging holds exactly the ones sent", async () => {
    const [x, y, z] = [await sponsoredCampaign("biz_a"), await sponsoredCampaign("biz_b"), await sponsoredCampaign("biz_c")];
    const token = await customer("w1");
    for (const b of ["biz_a", "biz_b", "biz_c"]) await marketing("w1", token, b, true);
    const first = clock.ms;
    expect(await outcomes(x, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    clock.advance(DAY);
    expect(await outcomes(y, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    clock.set(first + 7 * DAY - 1);
    expect(await outcomes(z, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_WEEKLY_CAP]]);
    expect(await conversationsOf("w1", token)).toEqual(["biz_a", "biz_b"]);
    clock.set(first + 7 * DAY);
    expect(await outcomes(z, ["w1"])).toEqual([["w1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    expect(await conversationsOf("w1", token)).toEqual(["biz_a", "biz_b", "biz_c"]);
    clock.set(first);
  });

  it("when two businesses' campaigns race for a customer's last weekly slot, then exactly one message goes", async () => {
    const [x, y, z] = [await sponsoredCampaign("biz_a"), await sponsoredCampaign("biz_b"), await sponsoredCampaign("biz_c")];
    const token = await customer("race1");
    for (const b of ["biz_a", "biz_b", "biz_c"]) await marketing("race1", token, b, true);
    expect(await outcomes(x, ["race1"])).toEqual([["race1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    const raced = (await Promise.all([outcomes(y, ["race1"]), outcomes(z, ["race1"])])).flat().map(([, o]) => o);
    expect(raced.sort()).toEqual([SponsoredOutcome.SPONSORED_OUTCOME_SENT, SponsoredOutcome.SPONSORED_OUTCOME_WEEKLY_CAP].sort());
    expect(await conversationsOf("race1", token)).toHaveLength(2);
  });

  it("when the customer stops every business with one tap, then no business reaches them", async () => {
    const b = await sponsoredCampaign("biz_b");
    const token = await customer("s1");
    await marketing("s1", token, "biz_b", true);
    await unaryCall(client.stopSponsoredMessages.bind(client), { customerId: "s1", businessId: "" }, { token });
    expect(await outcomes(b, ["s1"])).toEqual([["s1", SponsoredOutcome.SPONSORED_OUTCOME_STOPPED]]);
    expect(await conversationsOf("s1", token)).toEqual([]);
    const other = await env.token({ kind: "customer", customerId: "someone_else" });
    expect((await expectFailure(client.stopSponsoredMessages.bind(client), { customerId: "s1", businessId: "" }, { token: other })).code).toBe(status.PERMISSION_DENIED);
  });

  it("when the campaign is for followers, then only customers who follow the business get it", async () => {
    const f = await sponsoredCampaign("biz_f", { targeting: buildTargeting({ followersOnly: true }) });
    const token = await customer("f1");
    await marketing("f1", token, "biz_f", true);
    expect(await outcomes(f, ["f1"])).toEqual([["f1", SponsoredOutcome.SPONSORED_OUTCOME_NOT_FOLLOWING]]);
    const eventId = randomUUID();
    await publish(env, "directory", "kontor.directory.follow.changed.v1", FollowChanged.encode({ meta: { eventId, occurredAt: new Date(), businessId: "biz_f" }, businessId: "biz_f", customerId: "f1", following: true, followerCount: "1" }).finish(), eventId);
    await waitFor(async () => (await app.runtime.db.selectFrom("follower").select("following").where("customer_id", "=", "f1").executeTakeFirst())?.following === true);
    expect(await outcomes(f, ["f1"])).toEqual([["f1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
  });

  it("when messaging refuses (a template it does not have), then the outcome is REFUSED and neither the customer's weekly slot nor the budget is spent", async () => {
    const bad = await sponsoredCampaign("biz_a", { creatives: [buildCreative({ templateName: "no_such_template", templateLanguage: "en" })] });
    const [p, q] = [await sponsoredCampaign("biz_b"), await sponsoredCampaign("biz_c")];
    const token = await customer("r1");
    for (const b of ["biz_a", "biz_b", "biz_c"]) await marketing("r1", token, b, true);
    expect(await outcomes(bad, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_REFUSED]]);
    const day = await app.runtime.db.selectFrom("campaign_day").select(["leased_milli", "spent_milli"]).where("campaign_id", "=", bad.campaign.id).executeTakeFirstOrThrow();
    expect([Number(day.leased_milli), Number(day.spent_milli)]).toEqual([0, 0]);
    expect(await outcomes(p, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
    expect(await outcomes(q, ["r1"])).toEqual([["r1", SponsoredOutcome.SPONSORED_OUTCOME_SENT]]);
  });

  it("when the customer's app reports delivery and read and the customer taps a reply, then the campaign's report counts them from messaging's events", async () => {
    const d = await sponsoredCampaign("biz_c");
    const [k1, k2] = [await customer("k1"), await customer("k2")];
    await marketing("k1", k1, "biz_c", true);
    await marketing("k2", k2, "biz_c", true);
    const sent = await send(d, ["k1", "k2"]);
    expect(sent.map((r) => r.outcome)).toEqual([SponsoredOutcome.SPONSORED_OUTCOME_SENT, SponsoredOutcome.SPONSORED_OUTCOME_SENT]);
    // k1 reads it (READ implies delivered), k2's phone only receives it; k1 answers the message.
    const [m1, m2] = (await Promise.all(sent.map(async (r, i) => (await unaryCall(chat.getMessage.bind(chat), { participant: { kind: { $case: "customerId", value: r.customerId } }, messageId: r.messageId }, { token: [k1, k2][i]! })).message!))) as [Message, Message];
    await unaryCall(chat.reportReceipt.bind(chat), { reader: { kind: { $case: "customerId", value: "k1" } }, conversationId: m1.conversationId, status: MessageStatus.MESSAGE_STATUS_READ, upToSeq: "0", messageId: m1.id }, { token: k1 });
    await unaryCall(chat.reportReceipt.bind(chat), { reader: { kind: { $case: "customerId", value: "k2" } }, conversationId: m2.conversationId, status: MessageStatus.MESSAGE_STATUS_DELIVERED, upToSeq: "0", messageId: m2.id }, { token: k2 });
    await unaryCall(chat.sendMessage.bind(chat), { sender: { kind: { $case: "customerId", value: "k1" } }, recipient: { kind: { $case: "phoneNumberId", value: "pn_biz_c" } }, to: "", clientMessageId: "reply-k1", content: { kind: { $case: "text", value: { body: "Is the blue one on sale too?", previewUrl: false } } }, context: { messageId: m1.id }, bizOpaqueCallbackData: "", referral: undefined }, { token: k1 });
    const day = clock.now().toISOString().slice(0, 10);
    const report = async () => (await unaryCall(client.getCampaignReport.bind(client), { campaignId: d.campaign.id, fromDay: day, toDay: day }, { token: d.token })).days[0];
    await waitFor(async () => {
      const r = await report();
      return r?.messagesRead === "1" && r.messagesDelivered === "2" && r.messagesClicked === "1";
    });
    expect(await report()).toMatchObject({ day, messagesSent: "2", messagesDelivered: "2", messagesRead: "1", messagesClicked: "1" });
  });

  it("when sponsored messages are sent, then each is charged a thousandth of the CPM bid into the spend ledger and spend.recorded, and the daily and lifetime budgets stop the sends", async () => {
    // 1 cent a day and 2 in all at half a cent per message (CPM 500): two messages a day for two days, then the lifetime budget is gone.
    const c = await sponsoredCampaign("biz_b", { bid: cpm("500"), dailyBudget: { amountMinor: "1", currency: "EUR" }, lifetimeBudget: { amountMinor: "2", currency: "EUR" } });
    const ids = ["g1", "g2", "g3", "g4", "g5", "g6"];
    for (const id of ids) await marketing(id, await customer(id), "biz_b", true);
    const first = clock.ms;
    const spent = async () => {
      await app.serving.flush();
      const ledger = await app.runtime.db.selectFrom("spend_ledger").select(["amount_milli", "messages"]).where("campaign_id", "=", c.campaign.id).execute();
      return [ledger.reduce((s, r) => s + Number(r.amount_milli), 0), ledger.reduce((s, r) => s + r.messages, 0)];
    };
    const { SENT, BUDGET_EXHAUSTED } = { SENT: SponsoredOutcome.SPONSORED_OUTCOME_SENT, BUDGET_EXHAUSTED: SponsoredOutcome.SPONSORED_OUTCOME_BUDGET_EXHAUSTED };
    expect(await outcomes(c, ["g1", "g2", "g3"])).toEqual([["g1", SENT], ["g2", SENT], ["g3", BUDGET_EXHAUSTED]]);
    expect(await spent()).toEqual([1000, 2]);
    clock.set(first + DAY);
    expect(await outcomes(c, ["g3", "g4", "g5"])).toEqual([["g3", SENT], ["g4", SENT], ["g5", BUDGET_EXHAUSTED]]);
    clock.set(first + 2 * DAY);
    // A new day has room, the lifetime budget does not.
    expect(await outcomes(c, ["g5", "g6"])).toEqual([["g5", BUDGET_EXHAUSTED], ["g6", BUDGET_EXHAUSTED]]);
    expect(await spent()).toEqual([2000, 4]);
    const days = await app.runtime.db.selectFrom("campaign_day").select(["leased_milli", "budget_milli"]).where("campaign_id", "=", c.campaign.id).execute();
    for (const d of days) expect(Number(d.leased_milli)).toBeLessThanOrEqual(Number(d.budget_milli));
    // Payments learns it from spend.recorded, as every other spend: the whole minor units, and the messages.
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "ads", subjects.spendRecorded)).map((m) => SpendRecorded.decode(m.data)).filter((e) => e.campaignId === c.campaign.id);
    expect(events.reduce((s, e) => s + Number(e.messages), 0)).toBe(4);
    expect(events.reduce((s, e) => s + Number(e.amount?.amountMinor), 0)).toBe(2);
    clock.set(first);
  });

  it("when a sponsored-message campaign bids CPC, then INVALID_ARGUMENT names bid.kind", async () => {
    const token = await env.token({ kind: "business", businessId: "biz_a" });
    const err = await expectFailure(
      client.createCampaign.bind(client),
      { ...buildCreateCampaign({ businessId: "biz_a", objective: CampaignObjective.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE, creatives: [buildCreative({ templateName: TEMPLATE, templateLanguage: "en" })] }), bid: { kind: BidKind.BID_KIND_CPC, amount: { amountMinor: "5", currency: "EUR" } } },
      { token },
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(err)?.field).toBe("bid.kind");
  });

  it("when the campaign is not an active sponsored-message campaign, or belongs to another business, then FAILED_PRECONDITION or PERMISSION_DENIED", async () => {
    const a = await sponsoredCampaign("biz_a");
    await unaryCall(client.pauseCampaign.bind(client), { campaignId: a.campaign.id }, { token: a.token });
    expect((await expectFailure(client.sendSponsoredMessages.bind(client), { campaignId: a.campaign.id, customerIds: ["c1"] }, { token: a.token })).code).toBe(status.FAILED_PRECONDITION);
    const intruder = await env.token({ kind: "business", businessId: "biz_b" });
    expect((await expectFailure(client.sendSponsoredMessages.bind(client), { campaignId: a.campaign.id, customerIds: ["c1"] }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
  });
});
