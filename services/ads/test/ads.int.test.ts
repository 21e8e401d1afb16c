import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { AdsServiceClient, CampaignObjective, CampaignStatus } from "@kontor/proto/ads/v1/ads_service";
import { CampaignCreated } from "@kontor/proto/ads/v1/events";
import { outboxDrained, streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { checkHealth, clientFor, errorDetail, expectFailure, unaryCall } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createAds, type AdsApp } from "../src/app.js";
import { subjects } from "../src/events/subjects.js";
import { TOKEN_SECRET, buildCreateCampaign, buildCreative } from "./factories.js";

let env: TestEnv;
let app: AdsApp;
let port: number;
let client: AdsServiceClient;
let owner: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createAds(loadConfig(env.env({ ADS_TOKEN_SECRET: TOKEN_SECRET })));
  ({ port } = await app.start());
  client = clientFor(AdsServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_pottery" });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

/** Every CampaignCreated in this test file's ads stream. */
async function storedEvents(): Promise<CampaignCreated[]> {
  return (await streamMessages(env, "ads", subjects.campaignCreated)).map((m) => CampaignCreated.decode(m.data));
}

async function campaignCount(businessId: string): Promise<number> {
  const { count } = await app.runtime.db
    .selectFrom("campaign")
    .select((eb) => eb.fn.countAll<string>().as("count"))
    .where("business_id", "=", businessId)
    .executeTakeFirstOrThrow();
  return Number(count);
}

describe("health", () => {
  it("when started, then grpc.health.v1 answers SERVING for the server and the service", async () => {
    expect(await checkHealth(`127.0.0.1:${port}`)).toBe("SERVING");
    expect(await checkHealth(`127.0.0.1:${port}`, "kontor.ads.v1.AdsService")).toBe("SERVING");
  });
});

describe("CreateCampaign", () => {
  it("when the business creates a campaign, then it is a stored DRAFT and CampaignCreated reaches NATS once", async () => {
    const request = buildCreateCampaign({
      name: "Blue vases",
      objective: CampaignObjective.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
      creatives: [buildCreative({ templateName: "vase_launch", templateLanguage: "en" })],
    });
    const { campaign } = await unaryCall(client.createCampaign.bind(client), request, { token: owner });
    expect(campaign).toMatchObject({
      businessId: "biz_pottery",
      name: "Blue vases",
      objective: CampaignObjective.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
      status: CampaignStatus.CAMPAIGN_STATUS_DRAFT,
      dailyBudget: { amountMinor: "5000", currency: "EUR" },
    });
    expect(campaign?.flight?.startTime?.toISOString()).toBe(request.flight?.startTime?.toISOString());

    const got = await unaryCall(client.getCampaign.bind(client), { campaignId: campaign!.id }, { token: owner });
    expect(got.campaign).toEqual(campaign);

    await outboxDrained(app.runtime.database.pool);
    const events = (await storedEvents()).filter((e) => e.campaignId === campaign!.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ name: "Blue vases", status: CampaignStatus.CAMPAIGN_STATUS_DRAFT, dailyBudget: { amountMinor: "5000", currency: "EUR" } });
    expect(events[0]?.meta?.businessId).toBe("biz_pottery");
  });

  it("when the flight has no end, then the campaign is open-ended", async () => {
    const start = new Date(Date.now() + 3600_000);
    const { campaign } = await unaryCall(client.createCampaign.bind(client), buildCreateCampaign({ flight: { startTime: start, endTime: undefined } }), { token: owner });
    expect(campaign?.flight?.endTime).toBeUndefined();
  });

  it("when there is no token, then UNAUTHENTICATED", async () => {
    const err = await expectFailure(client.createCampaign.bind(client), buildCreateCampaign());
    expect(err.code).toBe(status.UNAUTHENTICATED);
  });

  it("when another tenant creates for this business, then PERMISSION_DENIED and nothing is stored", async () => {
    const intruder = await env.token({ kind: "business", businessId: "biz_other" });
    const err = await expectFailure(client.createCampaign.bind(client), buildCreateCampaign({ businessId: "biz_victim" }), { token: intruder });
    expect(err.code).toBe(status.PERMISSION_DENIED);
    expect(await campaignCount("biz_victim")).toBe(0);
  });

  it("when the input is bad, then INVALID_ARGUMENT names the field, no SQL leaks and nothing is stored", async () => {
    const biz = "biz_bad_input";
    const token = await env.token({ kind: "business", businessId: biz });
    const start = new Date(Date.now() + 3600_000);
    const cases: [Parameters<typeof buildCreateCampaign>[0], string][] = [
      [{ objective: CampaignObjective.CAMPAIGN_OBJECTIVE_UNSPECIFIED }, "objective"],
      [{ objective: 42 as CampaignObjective }, "objective"],
      [{ name: "" }, "name"],
      [{ dailyBudget: { amountMinor: "0", currency: "EUR" } }, "daily_budget.amount_minor"],
      [{ dailyBudget: { amountMinor: "100", currency: "EURO" } }, "daily_budget.currency"],
      [{ flight: undefined }, "flight"],
      [{ flight: { startTime: start, endTime: new Date(start.getTime() - 1000) } }, "flight.end_time"],
    ];
    for (const [overrides, field] of cases) {
      const err = await expectFailure(client.createCampaign.bind(client), buildCreateCampaign({ businessId: biz, ...overrides }), { token });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe(field);
      expect(err.details).toContain(field);
      expect(err.details).not.toMatch(/insert|select|constraint|campaign_/i);
    }
    expect(await campaignCount(biz)).toBe(0);
  });
});

describe("GetCampaign", () => {
  it("when another business asks, then PERMISSION_DENIED; an unknown or malformed id is NOT_FOUND", async () => {
    const { campaign } = await unaryCall(client.createCampaign.bind(client), buildCreateCampaign(), { token: owner });
    const intruder = await env.token({ kind: "business", businessId: "biz_other" });
    expect((await expectFailure(client.getCampaign.bind(client), { campaignId: campaign!.id }, { token: intruder })).code).toBe(status.PERMISSION_DENIED);
    expect((await expectFailure(client.getCampaign.bind(client), { campaignId: "00000000-0000-4000-8000-000000000000" }, { token: owner })).code).toBe(status.NOT_FOUND);
    const malformed = await expectFailure(client.getCampaign.bind(client), { campaignId: "1 OR 1=1" }, { token: owner });
    expect(malformed.code).toBe(status.NOT_FOUND);
    expect(malformed.details).not.toMatch(/uuid|syntax/i);
  });
});

describe("ListCampaigns", () => {
  it("when paging, then every campaign appears exactly once, newest first", async () => {
    const biz = `biz_list_${Date.now()}`;
    const token = await env.token({ kind: "business", businessId: biz });
    const created: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { campaign } = await unaryCall(client.createCampaign.bind(client), buildCreateCampaign({ businessId: biz }), { token });
      created.push(campaign!.id);
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const res = await unaryCall(client.listCampaigns.bind(client), { businessId: biz, page: { pageSize: 3, pageToken } }, { token });
      seen.push(...res.campaigns.map((c) => c.id));
      pageToken = res.page?.nextPageToken ?? "";
    } while (pageToken);
    expect(seen).toEqual([...created].reverse());
  });

  it("when another business lists, then PERMISSION_DENIED", async () => {
    const intruder = await env.token({ kind: "business", businessId: "biz_other" });
    const err = await expectFailure(client.listCampaigns.bind(client), { businessId: "biz_pottery", page: undefined }, { token: intruder });
    expect(err.code).toBe(status.PERMISSION_DENIED);
  });

  it("when the page token is garbage or forged, then INVALID_ARGUMENT names page.page_token", async () => {
    const forged = Buffer.from(JSON.stringify({ t: "2026-01-01T00:00:00Z", id: "x'; --" })).toString("base64url");
    for (const pageToken of ["nope", forged]) {
      const err = await expectFailure(client.listCampaigns.bind(client), { businessId: "biz_pottery", page: { pageSize: 3, pageToken } }, { token: owner });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(errorDetail(err)?.field).toBe("page.page_token");
    }
  });
});
