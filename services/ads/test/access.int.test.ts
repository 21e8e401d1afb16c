import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsServiceService } from "@kontor/proto/ads/v1/ads_service";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { TOKEN_SECRET } from "./factories.js";
import { createAds, type AdsApp } from "../src/app.js";
import { adsAccess } from "../src/rpc/access.js";

let env: TestEnv;
let app: AdsApp;
let port: number;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createAds(loadConfig(env.env({ ADS_TOKEN_SECRET: TOKEN_SECRET })));
  ({ port } = await app.start());
});

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("the access table", () => {
  it("when every principal kind, staff role and service calls every RPC, then only the callers on the RPC's list get past the allow-list", async () => {
    expect(await allowListViolations(env, AdsServiceService, adsAccess, `127.0.0.1:${port}`)).toEqual([]);
  });

  it("when a service calls a campaign or report RPC, then it is refused: campaigns and reports are the advertiser's own", () => {
    const advertiserOnly = ["CreateCampaign", "GetCampaign", "ListCampaigns", "SubmitCampaign", "PauseCampaign", "ResumeCampaign", "EndCampaign", "GetCampaignReport", "ExportCampaignReports", "SendSponsoredMessages"] as const;
    for (const rpc of advertiserOnly) expect(adsAccess[rpc].filter((c) => c.startsWith("service:")), rpc).toEqual([]);
  });
});
