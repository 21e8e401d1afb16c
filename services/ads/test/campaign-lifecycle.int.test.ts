import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { AdsServiceClient, CampaignStatus } from "@kontor/proto/ads/v1/ads_service";
import { CampaignUpdated } from "@kontor/proto/ads/v1/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import type { AdsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { buildCreateCampaign, buildCreative } from "./factories.js";
import { startAds } from "./helpers.js";

let env: TestEnv;
let app: AdsApp;
let client: AdsServiceClient;
let owner: string;
let intruder: string;
let reviewer: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await startAds(env);
  const { port } = await app.start();
  client = clientFor(AdsServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_life" });
  intruder = await env.token({ kind: "business", businessId: "biz_other" });
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

const create = async (overrides = {}) => (await unaryCall(client.createCampaign.bind(client), buildCreateCampaign({ businessId: "biz_life", ...overrides }), { token: owner })).campaign!;

describe("the status machine", () => {
  it("when a clean campaign is submitted, approved, paused, resumed and ended, then each step lands and campaign.updated reaches NATS for each", async () => {
    const c = await create();
    const submitted = await unaryCall(client.submitCampaign.bind(client), { campaignId: c.id }, { token: owner });
    expect(submitted.campaign).toMatchObject({ status: CampaignStatus.CAMPAIGN_STATUS_IN_REVIEW, review: { reasons: [], reviewer: "policy" } });
    const approved = await unaryCall(client.reviewCampaign.bind(client), { campaignId: c.id, approve: true, reasons: [] }, { token: reviewer });
    expect(approved.campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_ACTIVE);
    expect(approved.campaign?.review?.reviewer).toBe("staff:rev_1");
    expect((await unaryCall(client.pauseCampaign.bind(client), { campaignId: c.id }, { token: owner })).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_PAUSED);
    expect((await unaryCall(client.resumeCampaign.bind(client), { campaignId: c.id }, { token: owner })).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_ACTIVE);
    expect((await unaryCall(client.endCampaign.bind(client), { campaignId: c.id }, { token: owner })).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_ENDED);
    await outboxDrained(app.runtime.database.pool);
    const statuses = (await streamMessages(env, "ads", subjects.campaignUpdated)).map((m) => CampaignUpdated.decode(m.data)).filter((e) => e.campaignId === c.id).map((e) => e.status);
    expect(statuses).toEqual([
      CampaignStatus.CAMPAIGN_STATUS_IN_REVIEW,
      CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      CampaignStatus.CAMPAIGN_STATUS_PAUSED,
      CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      CampaignStatus.CAMPAIGN_STATUS_ENDED,
    ]);
  });

  it("when a transition is not on the machine, then FAILED_PRECONDITION and the status is unchanged", async () => {
    const c = await create();
    for (const call of [client.pauseCampaign, client.resumeCampaign]) {
      const err = await expectFailure(call.bind(client), { campaignId: c.id }, { token: owner });
      expect(err.code).toBe(status.FAILED_PRECONDITION);
    }
    expect((await expectFailure(client.reviewCampaign.bind(client), { campaignId: c.id, approve: true, reasons: [] }, { token: reviewer })).code).toBe(status.FAILED_PRECONDITION);
    await unaryCall(client.endCampaign.bind(client), { campaignId: c.id }, { token: owner });
    expect((await expectFailure(client.submitCampaign.bind(client), { campaignId: c.id }, { token: owner })).code).toBe(status.FAILED_PRECONDITION);
    expect((await unaryCall(client.getCampaign.bind(client), { campaignId: c.id }, { token: owner })).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_ENDED);
  });

  it("when creatives break policy rules, then submit keeps the campaign a DRAFT with every reason", async () => {
    const c = await create({
      creatives: [buildCreative({ headline: "Casino bonus", imageUrl: "https://tracker.evil/x.png", landingUrl: "https://bit.ly/x" })],
    });
    const { campaign } = await unaryCall(client.submitCampaign.bind(client), { campaignId: c.id }, { token: owner });
    expect(campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_DRAFT);
    expect(campaign?.review?.reasons).toEqual([
      'creative c1: banned word "casino" in headline',
      "creative c1: landing domain bit.ly is blocked",
      "creative c1: image_url points at tracker.evil, which is not on the URL allowlist",
    ]);
  });

  it("when a reviewer rejects, then the campaign is a DRAFT with the reviewer's reasons; a rejection without a reason is INVALID_ARGUMENT", async () => {
    const c = await create();
    await unaryCall(client.submitCampaign.bind(client), { campaignId: c.id }, { token: owner });
    const bad = await expectFailure(client.reviewCampaign.bind(client), { campaignId: c.id, approve: false, reasons: [" "] }, { token: reviewer });
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(errorDetail(bad)?.field).toBe("reasons");
    const { campaign } = await unaryCall(client.reviewCampaign.bind(client), { campaignId: c.id, approve: false, reasons: ["image is misleading"] }, { token: reviewer });
    expect(campaign).toMatchObject({ status: CampaignStatus.CAMPAIGN_STATUS_DRAFT, review: { reasons: ["image is misleading"] } });
  });

  it("when another business submits, pauses or ends this business's campaign, then PERMISSION_DENIED and nothing changes", async () => {
    const c = await create();
    for (const call of [client.submitCampaign, client.pauseCampaign, client.endCampaign]) {
      expect((await expectFailure(call.bind(client), { campaignId: c.id }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
    }
    expect((await unaryCall(client.getCampaign.bind(client), { campaignId: c.id }, { token: owner })).campaign?.status).toBe(CampaignStatus.CAMPAIGN_STATUS_DRAFT);
  });

  it("when a business tries to review, then PERMISSION_DENIED: only reviewers decide", async () => {
    const c = await create();
    await unaryCall(client.submitCampaign.bind(client), { campaignId: c.id }, { token: owner });
    expect((await expectFailure(client.reviewCampaign.bind(client), { campaignId: c.id, approve: true, reasons: [] }, { token: owner })).code).toBe(status.PERMISSION_DENIED);
  });
});

describe("CreateCampaign: bad money and schedules", () => {
  it("when the bid is negative, in another currency, or the schedule ends before it starts, then INVALID_ARGUMENT names the field and nothing is stored", async () => {
    const token = await env.token({ kind: "business", businessId: "biz_money" });
    const start = new Date(Date.now() + 3600_000);
    const cases: [Parameters<typeof buildCreateCampaign>[0], string][] = [
      [{ bid: { kind: 1, amount: { amountMinor: "-1", currency: "EUR" } } }, "bid.amount.amount_minor"],
      [{ bid: { kind: 1, amount: { amountMinor: "100", currency: "USD" } } }, "bid.amount.currency"],
      [{ lifetimeBudget: { amountMinor: "100000", currency: "BRL" } }, "lifetime_budget.currency"],
      [{ dailyBudget: { amountMinor: "5000", currency: "CHF" }, bid: { kind: 1, amount: { amountMinor: "100", currency: "CHF" } } }, "daily_budget.currency"],
      [{ flight: { startTime: start, endTime: new Date(start.getTime() - 1) } }, "flight.end_time"],
      [{ creatives: [] }, "creatives"],
      [{ targeting: { countries: ["XX1"], regions: [], languages: [], minAge: 0, maxAge: 0, interests: [], messagedWithinDays: 0, orderedWithinDays: 0, placements: [], keywords: [], followersOnly: false } }, "targeting.countries[0]"],
    ];
    for (const [overrides, field] of cases) {
      const err = await expectFailure(client.createCampaign.bind(client), buildCreateCampaign({ businessId: "biz_money", ...overrides }), { token });
      expect(err.code, field).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
    }
    const { campaigns } = await unaryCall(client.listCampaigns.bind(client), { businessId: "biz_money", page: undefined }, { token });
    expect(campaigns).toEqual([]);
  });
});
