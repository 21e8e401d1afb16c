import { createRuntime, type RuntimeOptions } from "@kontor/service-kit/runtime";
import type { Config } from "./config.js";
import { migrations } from "./store/migrations/index.js";
import type { AdsDatabase } from "./store/database.js";
import { createCampaignService } from "./domain/campaign-service.js";
import { createClickService } from "./domain/click-service.js";
import { createReportService } from "./domain/report-service.js";
import { createSponsoredService, type SponsoredSender } from "./domain/sponsored-service.js";
import { createMessagingSender } from "./clients/messaging-sender.js";
import { createAttribution } from "./domain/attribution-service.js";
import { randomUUID } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createServingEngine, type SeenImpression } from "./serving/serving-engine.js";
import { createServingMetrics } from "./serving/serving-metrics.js";
import { registerConsumers } from "./events/consumers.js";
import { registerAdsServer } from "./rpc/ads-server.js";
import { adsAccess } from "./rpc/access.js";
import { bounds } from "./rpc/bounds.js";

export interface AdsOverrides extends Partial<Pick<RuntimeOptions, "log" | "afterPublish">> {
  /** The clock (tests and the bench drive simulated days). */
  now?: () => Date;
  /** Sends sponsored messages; by default through messaging's gRPC API when MESSAGING_ADDR is set. */
  sponsoredSender?: SponsoredSender;
}

/**
 * One full garbage collection once the index is built: loading (every
 * campaign row and consent, parsed) leaves hundreds of megabytes of garbage
 * in the old generation, and the collection that would otherwise find it
 * came during the first minutes of serving as a pause of 100-200 ms.
 */
function collectOnce(): void {
  try {
    setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
  } catch {
    // Not available: the collector runs when it would have.
  }
}

/** Composition root: build everything from config; start() returns the bound port. */
export async function createAds(config: Config, overrides: AdsOverrides = {}) {
  const { now: clock, sponsoredSender, ...runtimeOverrides } = overrides;
  const now = clock ?? (() => new Date());
  // SelectAds is the hot path: its successful calls log at trace.
  const rt = await createRuntime<AdsDatabase>({ name: "ads", domain: "ads", config, migrations, access: adsAccess, bounds, okLogLevel: "trace", ...runtimeOverrides });
  const ports = { db: rt.db, enqueue: rt.enqueue, now };
  // Replicas tell each other what they served over core NATS (best effort; outside every stream), for the frequency caps.
  const replicaId = randomUUID();
  const seenSubject = `${rt.prefix}kontor.replicas.ads.impressions`;
  // The replica's id in the subject: a replica skips its own batches without parsing them.
  const ownSeenSubject = `${seenSubject}.${replicaId}`;
  const shareImpressions = (seen: SeenImpression[]) => rt.nc.publish(ownSeenSubject, Buffer.from(JSON.stringify({ r: replicaId, s: seen })));
  const campaigns = createCampaignService({
    ...ports,
    policy: { bannedWords: config.ADS_BANNED_WORDS, allowedUrlHosts: config.ADS_ALLOWED_URL_HOSTS, blockedLandingDomains: config.ADS_BLOCKED_LANDING_DOMAINS },
    currencies: new Set(Object.keys(config.ADS_CURRENCY_RATES)),
  });
  const servingMetrics = createServingMetrics(rt.metrics.registry);
  const serving = createServingEngine(
    { ...ports, log: rt.log, shareImpressions, metrics: servingMetrics },
    {
      tokenSecret: config.ADS_TOKEN_SECRET,
      rates: config.ADS_CURRENCY_RATES,
      reserveEcpm: config.ADS_RESERVE_ECPM,
      priorCtr: config.ADS_PRIOR_CTR,
      priorImpressions: config.ADS_PRIOR_IMPRESSIONS,
      slicesPerDay: config.ADS_LEASE_SLICES_PER_DAY,
      pacingAheadMs: config.ADS_PACING_AHEAD_MS,
      placementDailyCap: config.ADS_PLACEMENT_DAILY_CAP,
      flushMs: config.ADS_FLUSH_MS,
      settleMs: config.ADS_SETTLE_MS,
    },
  );
  const clicks = createClickService({ ...ports, tokenSecret: config.ADS_TOKEN_SECRET, chatLinkBaseUrl: config.ADS_CHAT_LINK_BASE_URL, noteSpend: serving.noteSpend });
  const reports = createReportService(rt.db);
  const messaging =
    !sponsoredSender && config.MESSAGING_ADDR && config.ADS_SIGNING_KEY
      ? await createMessagingSender({ address: config.MESSAGING_ADDR, signingKey: config.ADS_SIGNING_KEY, timeoutMs: config.CALL_TIMEOUT_MS })
      : undefined;
  const sponsored = createSponsoredService({ db: rt.db, now, weeklyCap: config.ADS_SPONSORED_WEEKLY_CAP, sender: sponsoredSender ?? messaging, noteSpend: serving.noteSpend });
  const attribution = createAttribution(config.ADS_ATTRIBUTION_DAYS);
  registerConsumers(rt, serving, attribution);
  registerAdsServer(rt.grpc, { campaigns, serving, clicks, reports, sponsored, maxPageSize: config.MAX_PAGE_SIZE });
  // Memory first, then events (consumers start after these hooks), then traffic.
  rt.onStart(async () => {
    await serving.load();
    collectOnce();
    rt.nc.subscribe(`${seenSubject}.*`, {
      callback: (err, msg) => {
        if (err || msg.subject === ownSeenSubject) return;
        const t0 = performance.now();
        try {
          const m = JSON.parse(Buffer.from(msg.data).toString("utf8")) as { r: string; s: SeenImpression[] };
          if (m.r !== replicaId && Array.isArray(m.s)) serving.noteSeen(m.s.filter((x) => Array.isArray(x) && x.length === 4));
        } catch (e) {
          rt.log.warn({ err: e }, "undecodable impressions from a replica");
        }
        servingMetrics.held("replica_impressions", t0);
      },
    });
    serving.start();
  });
  rt.onStop(async () => {
    await serving.stop();
    messaging?.close();
  });
  return {
    log: rt.log,
    runtime: rt,
    serving,
    sponsored,
    start: () => rt.start(),
    stop: () => rt.stop(),
  };
}

export type AdsApp = Awaited<ReturnType<typeof createAds>>;
