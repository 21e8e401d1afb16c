import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdsServiceService } from "@kontor/proto/ads/v1/ads_service";
import { allowListViolations } from "@kontor/testkit/access";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { loadConfig } from "../src/config.js";
import { createAds, type AdsApp } from "../src/app.js";
import { adsAccess } from "../src/rpc/access.js";

let env: TestEnv;
let app: AdsApp;
let port: number;

beforeAll(async () => {
  env = await createTestEnv();
  app = await createAds(loadConfig(env.env()));
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

  it("when a service calls, then it is refused: campaigns are the advertiser's own", () => {
    for (const callers of Object.values(adsAccess)) expect(callers.filter((c) => c.startsWith("service:"))).toEqual([]);
  });
});
