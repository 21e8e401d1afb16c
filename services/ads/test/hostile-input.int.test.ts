import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsServiceClient, AdsServiceService } from "@kontor/proto/ads/v1/ads_service";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { clientFor, unaryCall } from "@kontor/testkit/grpc";
import { assertHostileRefused, rowCounts } from "@kontor/testkit/hostile";
import { loadConfig } from "../src/config.js";
import { createAds, type AdsApp } from "../src/app.js";
import { bounds } from "../src/rpc/bounds.js";
import { TOKEN_SECRET, buildCreateCampaign } from "./factories.js";

let env: TestEnv;
let app: AdsApp;
let address: string;
let client: AdsServiceClient;
let owner: string;

/** The principal each RPC is meant for; a method missing here fails the test, so a new one gets covered. */
const callers: Record<string, () => string> = {
  createCampaign: () => owner,
  getCampaign: () => owner,
  listCampaigns: () => owner,
  submitCampaign: () => owner,
  reviewCampaign: () => reviewer,
  pauseCampaign: () => owner,
  resumeCampaign: () => owner,
  endCampaign: () => owner,
  selectAds: () => surface,
  recordClick: () => surface,
  getCampaignReport: () => owner,
  exportCampaignReports: () => owner,
  sendSponsoredMessages: () => owner,
  stopSponsoredMessages: () => messagingService,
};
let reviewer: string;
let surface: string;
let messagingService: string;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createAds(loadConfig(env.env({ ADS_TOKEN_SECRET: TOKEN_SECRET })));
  const { port } = await app.start();
  address = `127.0.0.1:${port}`;
  client = clientFor(AdsServiceClient, port);
  owner = await env.token({ kind: "business", businessId: "biz_hostile" });
  reviewer = await env.token({ kind: "staff", staffId: "rev_1", roles: ["ads_reviewer"] });
  surface = await env.token({ kind: "service", service: "directory" });
  messagingService = await env.token({ kind: "service", service: "messaging" });
  await unaryCall(client.createCampaign.bind(client), buildCreateCampaign({ businessId: "biz_hostile" }), { token: owner });
});

afterAll(async () => {
  client?.close();
  await app?.stop();
  await env?.cleanup();
});

describe("hostile input", () => {
  for (const [name, method] of Object.entries(AdsServiceService)) {
    it(`${method.path}: U+0000, over-long strings and over-long lists in any field are INVALID_ARGUMENT naming the field, and nothing changes`, async () => {
      const token = callers[name];
      expect(token, `no caller for ${name}`).toBeDefined();
      const before = await rowCounts(env.databaseUrl, "ads");
      const listed = await unaryCall(client.listCampaigns.bind(client), { businessId: "biz_hostile", page: undefined }, { token: owner });
      await assertHostileRefused({ address, method, token: token!(), bounds, numRuns: 25 });
      expect(await rowCounts(env.databaseUrl, "ads")).toEqual(before);
      expect(await unaryCall(client.listCampaigns.bind(client), { businessId: "biz_hostile", page: undefined }, { token: owner })).toEqual(listed);
    });
  }
});
