import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { AdsServiceClient, type ServedAd } from "@kontor/proto/ads/v1/ads_service";
import { ClickRecorded, SpendRecorded } from "@kontor/proto/ads/v1/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { authMetadata, clientFor, errorDetail, expectFailure, unaryCall, waitFor } from "@kontor/testkit/grpc";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import type { AdsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildCreative, buildTargeting } from "./factories.js";
import { CTC, DAY, activeCampaign, cpc, cpm, manualClock, publishInbound, publishOrder, publishPersonalization, selectRequest, selectUntil, startAds } from "./helpers.js";

let env: TestEnv;
let app: AdsApp;
let client: AdsServiceClient;
let owner: string;
let reviewer: string;
let surface: string;
const clock = manualClock(Date.parse("2026-12-07T09:00:00Z"));

beforeAll(async () => {
  env = await createTestEnv();
  // No global placement cap here: these tests ask for one viewer many times (caps.int.test.ts tests the caps).
  app = await startAds(env, { ADS_PLACEMENT_DAILY_CAP: "0" }, { now: clock.now });
  const { port } = await app.start();
  client = clientFor(AdsServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_pottery" });
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
  surface = await env.token({ kind: "service", service: "directory" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const select = async (request = selectRequest()) => (await unaryCall(client.selectAds.bind(client), request, { token: surface })).ads;
const consentRow = async (customerId: string) =>
  (await app.runtime.db.selectFrom("customer_consent").select("ad_personalization").where("customer_id", "=", customerId).executeTakeFirst())?.ad_personalization;

describe("SelectAds: targeting and consent", () => {
  it("when a customer has not turned personalization on, turns it on, then off, then the personalized campaign reaches them only while it is on", async () => {
    const ctx = { country: "CA", region: "CA-QC", language: "fr", age: 30, interests: ["beauty"], query: "" };
    const personal = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("900"), targeting: buildTargeting({ countries: ["CA"], interests: ["beauty"] }) });
    const contextual = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("100"), targeting: buildTargeting({ countries: ["CA"] }) });
    const request = selectRequest({ customerId: "cust_consent", context: ctx, count: 2 });
    // The contextual campaign serves (its lease arrived), and the personalized one never does without consent.
    await selectUntil(client, surface, request, contextual.id);
    await app.serving.settle();
    for (let i = 0; i < 20; i++) expect((await select(request)).map((a) => a.campaignId)).not.toContain(personal.id);

    await publishPersonalization(env, "cust_consent", true, clock.now());
    await selectUntil(client, surface, request, personal.id);
    // Anonymous viewers and other customers without consent still never get it.
    for (let i = 0; i < 10; i++) expect((await select(selectRequest({ customerId: "", context: ctx, count: 2 }))).map((a) => a.campaignId)).not.toContain(personal.id);
    for (let i = 0; i < 10; i++) expect((await select(selectRequest({ customerId: "cust_never", context: ctx, count: 2 }))).map((a) => a.campaignId)).not.toContain(personal.id);

    clock.advance(1000);
    await publishPersonalization(env, "cust_consent", false, clock.now());
    // The shared consumer updates memory before the table: once the row says off, this replica's memory does too.
    await waitFor(async () => (await consentRow("cust_consent")) === false);
    for (let i = 0; i < 50; i++) {
      const ads = await select(request);
      expect(ads.map((a) => a.campaignId)).not.toContain(personal.id);
    }
    expect((await select(request)).map((a) => a.campaignId)).toContain(contextual.id);
  });

  it("when campaigns target other countries, languages, placements or keywords, then they are not served here", async () => {
    const ctx = { country: "CO", region: "", language: "es", age: 0, interests: [], query: "ceramic mugs" };
    const right = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("100"), targeting: buildTargeting({ countries: ["CO"], languages: ["es"], keywords: ["mugs"] }) });
    const wrong = [
      await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("900"), targeting: buildTargeting({ countries: ["PE"] }) }),
      await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("900"), targeting: buildTargeting({ countries: ["CO"], languages: ["en"] }) }),
      await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("900"), targeting: buildTargeting({ countries: ["CO"], placements: [2] }) }),
      await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("900"), targeting: buildTargeting({ countries: ["CO"], keywords: ["vases"] }) }),
    ].map((c) => c.id);
    const request = selectRequest({ customerId: "", context: ctx, count: 5 });
    await selectUntil(client, surface, request, right.id);
    await app.serving.settle();
    for (let i = 0; i < 10; i++) {
      const got = (await select(request)).map((a) => a.campaignId);
      expect(got.filter((id) => wrong.includes(id))).toEqual([]);
    }
  });

  it("when the placement is missing or the count is out of range, then INVALID_ARGUMENT names the field", async () => {
    const noPlacement = await expectFailure(client.selectAds.bind(client), selectRequest({ placement: 0 }), { token: surface });
    expect(errorDetail(noPlacement)?.field).toBe("placement");
    const tooMany = await expectFailure(client.selectAds.bind(client), selectRequest({ count: 6 }), { token: surface });
    expect(errorDetail(tooMany)?.field).toBe("count");
  });

  it("when a customer asks for ads for another customer, then PERMISSION_DENIED", async () => {
    const token = await env.token({ kind: "customer", customerId: "cust_a" });
    const err = await expectFailure(client.selectAds.bind(client), selectRequest({ customerId: "cust_b" }), { token });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });
});

describe("SelectAds: second price and the spend ledger", () => {
  it("when two CPM campaigns compete, then the higher bid wins, its impression costs the second bid, and spend.recorded carries it", async () => {
    const ctx = { country: "CD", region: "", language: "fr", age: 0, interests: [], query: "" };
    const high = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("500"), targeting: buildTargeting({ countries: ["CD"] }) });
    const low = await activeCampaign(client, owner, reviewer, clock.ms, { bid: cpm("300"), targeting: buildTargeting({ countries: ["CD"] }) });
    const request = selectRequest({ customerId: "", context: ctx, count: 1 });
    // Both must hold a lease before the auction is a fair one.
    await selectUntil(client, surface, request, high.id);
    await selectUntil(client, surface, selectRequest({ customerId: "", context: ctx, count: 2 }), low.id);
    await app.serving.flush();
    const before = await app.runtime.db.selectFrom("impression").select(["id"]).where("campaign_id", "=", high.id).execute();
    const ads = await select(request);
    expect(ads.map((a) => a.campaignId)).toEqual([high.id]);
    await app.serving.flush();
    const row = await app.runtime.db.selectFrom("impression").selectAll().where("id", "=", ads[0]!.impressionId).executeTakeFirstOrThrow();
    expect(Number(row.cost_milli)).toBe(300);
    // Each impression is one row, however often the batch is written.
    await app.serving.flush();
    const after = await app.runtime.db.selectFrom("impression").select(["id"]).where("campaign_id", "=", high.id).execute();
    expect(after.length).toBe(before.length + 1);
    // The ledger holds exactly what the impressions cost, and the events carry the whole minor units of it.
    const ledger = await app.runtime.db.selectFrom("spend_ledger").select(["amount_milli", "amount_minor", "impressions"]).where("campaign_id", "=", high.id).execute();
    const impressions = await app.runtime.db.selectFrom("impression").select("cost_milli").where("campaign_id", "=", high.id).execute();
    const ledgerMilli = ledger.reduce((s, r) => s + Number(r.amount_milli), 0);
    expect(ledgerMilli).toBe(impressions.reduce((s, r) => s + Number(r.cost_milli), 0));
    expect(ledger.reduce((s, r) => s + r.impressions, 0)).toBe(impressions.length);
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "ads", subjects.spendRecorded)).map((m) => SpendRecorded.decode(m.data)).filter((e) => e.campaignId === high.id);
    expect(events.reduce((s, e) => s + Number(e.amount?.amountMinor), 0)).toBe(Math.floor(ledgerMilli / 1000));
    expect(events.reduce((s, e) => s + Number(e.impressions), 0)).toBe(impressions.length);
    expect(new Set(events.map((e) => e.meta?.eventId)).size).toBe(events.length);
  });
});

describe("RecordClick, attribution and the report", () => {
  let served: ServedAd;
  let campaignId: string;
  const clickAt = clock.ms;

  beforeAll(async () => {
    const c = await activeCampaign(client, owner, reviewer, clock.ms, {
      objective: CTC,
      bid: cpc("40"),
      creatives: [buildCreative({ headline: "Talk to our potters", prefilledMessage: "Hi, I saw your ad" })],
      targeting: buildTargeting({ countries: ["CE"] }),
    });
    campaignId = c.id;
    served = await selectUntil(client, surface, selectRequest({ customerId: "cust_click", context: { country: "CE", region: "", language: "pt", age: 0, interests: [], query: "" } }), c.id);
  });

  it("when a click-to-chat ad is clicked, then it is counted once, charged its CPC once, and the chat link carries the referral", async () => {
    const first = await unaryCall(client.recordClick.bind(client), { adToken: served.adToken, clickId: "k1" }, { token: surface });
    expect(first.counted).toBe(true);
    expect(first.url).toContain("/chat/biz_pottery?");
    expect(new URL(first.url).searchParams.get("ctwa_clid")).toBe("k1");
    expect(new URL(first.url).searchParams.get("text")).toBe("Hi, I saw your ad");
    expect(first.referral).toMatchObject({ sourceId: campaignId, sourceType: "ad", headline: "Talk to our potters", creativeId: "c1", ctwaClid: "k1" });
    const retry = await unaryCall(client.recordClick.bind(client), { adToken: served.adToken, clickId: "k1" }, { token: surface });
    expect(retry).toMatchObject({ counted: false, clickId: "k1" });
    const again = await unaryCall(client.recordClick.bind(client), { adToken: served.adToken, clickId: "k2" }, { token: surface });
    expect(again).toMatchObject({ counted: false, clickId: "k1" });
    const clicks = await app.runtime.db.selectFrom("click").selectAll().where("campaign_id", "=", campaignId).execute();
    expect(clicks.map((c) => c.id)).toEqual(["k1"]);
    // The charge reaches the spend ledger with the campaign-day's settlement (flush settles at once).
    await app.serving.flush();
    const ledger = await app.runtime.db.selectFrom("spend_ledger").select(["amount_milli", "clicks"]).where("campaign_id", "=", campaignId).where("clicks", "=", 1).execute();
    expect(ledger).toHaveLength(1);
    expect(Number(ledger[0]!.amount_milli)).toBe(Number(clicks[0]!.cost_milli));
    expect(Number(clicks[0]!.cost_milli)).toBeGreaterThan(0);
    expect(Number(clicks[0]!.cost_milli)).toBeLessThanOrEqual(40_000);
    await outboxDrained(app.runtime.database.pool);
    const events = (await streamMessages(env, "ads", subjects.clickRecorded)).map((m) => ClickRecorded.decode(m.data)).filter((e) => e.campaignId === campaignId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ clickId: "k1", customerId: "cust_click", referral: { ctwaClid: "k1" } });
  });

  it("when the token is forged or another customer clicks it, then INVALID_ARGUMENT or PERMISSION_DENIED, and nothing is counted", async () => {
    // The bid kind's byte turned from CPC to CPM (a free click), the MAC left as it was.
    const bytes = Buffer.from(served.adToken, "base64url");
    bytes[34] = 0;
    const forged = bytes.toString("base64url");
    const bad = await expectFailure(client.recordClick.bind(client), { adToken: forged, clickId: "k9" }, { token: surface });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(bad)?.field).toBe("ad_token");
    const other = await env.token({ kind: "customer", customerId: "cust_other" });
    expect((await expectFailure(client.recordClick.bind(client), { adToken: served.adToken, clickId: "k8" }, { token: other })).code).toBe(status.PERMISSION_DENIED);
    expect(await app.runtime.db.selectFrom("click").select("id").where("id", "in", ["k8", "k9"]).execute()).toEqual([]);
  });

  it("when the conversation and orders follow the click, then those within 7 days are attributed to the campaign, later ones are not", async () => {
    await publishInbound(env, { customerId: "cust_click", businessId: "biz_pottery", conversationId: "conv_1", at: new Date(clickAt + 60_000), clickId: "k1" });
    await publishOrder(env, { orderId: "ord_in", customerId: "cust_click", businessId: "biz_pottery", at: new Date(clickAt + 3 * DAY), totalMinor: "2500" });
    await publishOrder(env, { orderId: "ord_late", customerId: "cust_click", businessId: "biz_pottery", at: new Date(clickAt + 7 * DAY + 60_000), totalMinor: "9900" });
    await publishOrder(env, { orderId: "ord_elsewhere", customerId: "cust_click", businessId: "biz_other", at: new Date(clickAt + DAY), totalMinor: "700" });
    await waitFor(async () => (await app.runtime.db.selectFrom("processed_events").select("event_id").where("consumer", "=", "ads-orders").execute()).length >= 3);
    await waitFor(async () => (await app.runtime.db.selectFrom("conversion").select("ref_id").where("kind", "=", "conversation").execute()).length === 1);
    const conversions = await app.runtime.db.selectFrom("conversion").selectAll().orderBy("ref_id").execute();
    expect(conversions.map((c) => [c.kind, c.ref_id, c.campaign_id, c.click_id])).toEqual([
      ["conversation", "conv_1", campaignId, "k1"],
      ["order", "ord_in", campaignId, "k1"],
    ]);
  });

  it("when the business asks for the report, then the day shows impressions, reach, clicks, spend, conversions, revenue and ROAS; another business is refused", async () => {
    await app.serving.flush();
    const day = new Date(clickAt).toISOString().slice(0, 10);
    const orderDay = new Date(clickAt + 3 * DAY).toISOString().slice(0, 10);
    const { days } = await unaryCall(client.getCampaignReport.bind(client), { campaignId, fromDay: day, toDay: orderDay }, { token: owner });
    const first = days.find((d) => d.day === day)!;
    expect(first).toMatchObject({ impressions: "1", reach: "1", clicks: "1", conversations: "1", orders: "0", ctr: 1 });
    const spend = Number(first.spend?.amountMinor);
    expect(spend).toBeGreaterThan(0);
    expect(first.costPerConversation?.amountMinor).toBe(String(spend));
    expect(days.find((d) => d.day === orderDay)).toMatchObject({ orders: "1", revenue: { amountMinor: "2500", currency: "EUR" } });
    const intruder = await env.token({ kind: "business", businessId: "biz_other" });
    expect((await expectFailure(client.getCampaignReport.bind(client), { campaignId, fromDay: day, toDay: day }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
    const badRange = await expectFailure(client.getCampaignReport.bind(client), { campaignId, fromDay: orderDay, toDay: day }, { token: owner });
    expect(errorDetail(badRange)?.field).toBe("to_day");
  });

  it("when the business exports, then every campaign-day row streams, only its own", async () => {
    const day = new Date(clickAt).toISOString().slice(0, 10);
    const rows: { campaignId: string; businessId: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = client.exportCampaignReports({ businessId: "biz_pottery", fromDay: day, toDay: day }, authMetadata(owner));
      stream.on("data", (r: { row?: { campaignId: string; businessId: string } }) => rows.push(r.row!));
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.every((r) => r.businessId === "biz_pottery")).toBe(true);
    expect(rows.map((r) => r.campaignId)).toContain(campaignId);
  });
});
