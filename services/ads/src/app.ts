import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { AdsDatabase } from "./store/database.js";
import { createCampaignService } from "./domain/campaign-service.js";
import { registerAdsServer } from "./rpc/ads-server.js";
import { adsAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

/** Composition root: build everything from config; start() returns the bound port. */
export async function createAds(config: Config, overrides: Partial<Pick<RuntimeOptions, "log" | "afterPublish">> & { now?: () => Date } = {}) {
  const { now, ...runtimeOverrides } = overrides;
  const rt = await createRuntime<AdsDatabase>({ name: "ads", domain: "ads", config, migrations, access: adsAccess, bounds, ...runtimeOverrides });
  const campaigns = createCampaignService({ db: rt.db, enqueue: rt.enqueue, now: now ?? (() => new Date()) });
  registerAdsServer(rt.grpc, campaigns, config.MAX_PAGE_SIZE);
  return {
    log: rt.log,
    runtime: rt,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type AdsApp = Awaited<ReturnType<typeof createAds>>;
