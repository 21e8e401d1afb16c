import { sql, type Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdsDatabase } from "../store/database.js";
import { listServable, findCampaign } from "../store/campaign-store.js";
import { campaignRowToCampaign } from "../domain/campaign-service.js";
import { AdIndex, newServingState, servingAdOf, type ServingAd, type ServingState } from "../domain/ad-index.js";
import { ecpmOf, runAuction, predictedCtr, type Bidder } from "../domain/auction.js";
import { FrequencyLedger } from "../domain/frequency.js";
import { DAY_MS, Lease, dayStartMs, leaseSlice, pacedCeiling, utcDay } from "../domain/pacing.js";
import { matchesTargeting, type Interactions, type Placement, type Viewer } from "../domain/targeting.js";
import { createImpressionIds, mintAdToken } from "../domain/ad-token.js";
import type { Creative } from "../domain/campaign.js";
import { createSpendSettlement } from "./spend-settlement.js";
import { noServingMetrics, type ServingMetrics } from "./serving-metrics.js";
import { plainArray, textArray } from "../store/pg-arrays.js";

export interface ServingOptions {
  tokenSecret: string;
  /** Ranking units per minor unit, by currency. */
  rates: Readonly<Record<string, number>>;
  reserveEcpm: number;
  priorCtr: number;
  priorImpressions: number;
  slicesPerDay: number;
  pacingAheadMs: number;
  placementDailyCap: number;
  flushMs: number;
  /** How often the campaign-days this replica touched are settled into the spend ledger (ms). */
  settleMs: number;
}

/** One impression as the frequency caps count it: customer, campaign, placement, when (ms). */
export type SeenImpression = [customerId: string, campaignId: string, placement: Placement, atMs: number];

export interface ServingPorts {
  db: Kysely<AdsDatabase>;
  enqueue(trx: Kysely<AdsDatabase>, events: OutboxEvent[]): Promise<void>;
  now(): Date;
  log: Logger;
  /** Tells the other replicas what this one served, for their frequency caps (best effort). */
  shareImpressions?(seen: SeenImpression[]): void;
  /** How long background passes hold the event loop. */
  metrics?: ServingMetrics;
}

export interface AdRequest {
  placement: Placement;
  customerId: string;
  country: string;
  region: string;
  language: string;
  age: number;
  interests: readonly string[];
  query: string;
  count: number;
}

export interface Served {
  token: string;
  impressionId: string;
  campaignId: string;
  businessId: string;
  objective: ServingAd["objective"];
  creative: Creative;
}

/**
 * Served impressions not yet written, column by column: an impression
 * holds no object of its own until the batch is written (they live through
 * a few collections, and per-impression objects were most of what the
 * collector moved).
 */
class PendingBatch {
  ids: string[] = [];
  ads: ServingAd[] = [];
  creatives: string[] = [];
  customers: string[] = [];
  placements: Placement[] = [];
  atMs: number[] = [];
  /** CPM: the price (thousandths of a minor unit); CPC impressions cost nothing until clicked. */
  costMilli: number[] = [];
  /** The first this many were already told to the other replicas (a batch kept for a retry is not told twice). */
  shared = 0;

  get length(): number {
    return this.ids.length;
  }

  push(id: string, ad: ServingAd, creativeId: string, customerId: string, placement: Placement, atMs: number, costMilli: number): void {
    this.ids.push(id);
    this.ads.push(ad);
    this.creatives.push(creativeId);
    this.customers.push(customerId);
    this.placements.push(placement);
    this.atMs.push(atMs);
    this.costMilli.push(costMilli);
  }

  /** This batch (failed to write) ahead of `later`, at most `max` impressions. */
  prepend(later: PendingBatch, max: number): PendingBatch {
    const out = new PendingBatch();
    out.ids = this.ids.concat(later.ids).slice(0, max);
    out.ads = this.ads.concat(later.ads).slice(0, max);
    out.creatives = this.creatives.concat(later.creatives).slice(0, max);
    out.customers = this.customers.concat(later.customers).slice(0, max);
    out.placements = this.placements.concat(later.placements).slice(0, max);
    out.atMs = this.atMs.concat(later.atMs).slice(0, max);
    out.costMilli = this.costMilli.concat(later.costMilli).slice(0, max);
    out.shared = this.length;
    return out;
  }
}

type LeaseState = ServingState;

const MAX_PENDING = 200_000;
/** Impressions per message to the other replicas, one message per event-loop turn (well under NATS's 1 MB payload limit). */
const SHARE_CHUNK = 250;
const LOAD_PAGE = 5000;
/** How often ads are re-ranked by their CTR estimates (ms). */
const RESCORE_MS = 5000;
/** Campaigns leased in one transaction. */
const LEASE_BATCH = 500;
/** Impression rows per INSERT. */
const WRITE_CHUNK = 5000;
/** How often frequency entries outside their windows are dropped (ms), and how many customers one turn of that sweep looks at. */
const SWEEP_MS = 60_000;
const SWEEP_CHUNK = 5000;
/** How far back a replica looks for campaign-days left unsettled (at start, then every SETTLE_SWEEP_MS over two days). */
const SETTLE_SWEEP_DAYS = 35;
const SETTLE_SWEEP_MS = 300_000;

/**
 * Serving from memory: the active ads (index), each replica's budget leases,
 * frequency counts, consent and prior interactions, kept fresh by events.
 * A request reads no table; leases and the impression batches are written
 * off the request path.
 */
export function createServingEngine(ports: ServingPorts, options: ServingOptions) {
  const { db, log } = ports;
  const metrics = ports.metrics ?? noServingMetrics;
  const index = new AdIndex();
  const frequency = new FrequencyLedger();
  /** Per campaign: lease and CTR statistics (also for campaigns not in the index right now, whose lease may still need giving back). */
  const leases = new Map<string, LeaseState>();
  /** customer → ad personalization on (absent: off, messaging's default). */
  const personalization = new Map<string, { on: boolean; atMs: number }>();
  /** customer → business → last messaged / ordered (ms). */
  const interactions = new Map<string, Map<string, { messagedMs?: number; orderedMs?: number }>>();
  const settlement = createSpendSettlement({ ...ports, metrics });
  const nextImpressionId = createImpressionIds();
  let pending = new PendingBatch();
  let flushTimer: NodeJS.Timeout | undefined;
  let rescoreTimer: NodeJS.Timeout | undefined;
  let settleTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  /** Campaigns whose CTR estimate moved since the last rescore. */
  const rescored = new Set<string>();
  let lastSweepMs = 0;
  let sweeping = false;
  let stopped = false;

  const interactionsOf = (customerId: string): Interactions | undefined => {
    const byBusiness = interactions.get(customerId);
    if (!byBusiness) return undefined;
    return {
      lastMessagedMs: (b) => byBusiness.get(b)?.messagedMs,
      lastOrderedMs: (b) => byBusiness.get(b)?.orderedMs,
    };
  };

  const ctrFrom = (impressions: number, clicks: number): number => predictedCtr(clicks, impressions, options.priorCtr, options.priorImpressions);
  const ctrOf = (campaignId: string): number => leases.get(campaignId)?.ctr ?? ctrFrom(0, 0);

  const scoreOf = (ad: ServingAd): number => ecpmOf({ kind: ad.bidKind, bidMinor: ad.bidMinor, ctr: ad.state.ctr, rate: options.rates[ad.currency] ?? 0 });
  const indexAd = (ad: ServingAd): void => {
    ad.score = scoreOf(ad);
    index.upsert(ad);
  };
  /** Re-ranks the ads whose CTR estimate moved; only their buckets re-sort. */
  function rescore(): void {
    if (rescored.size === 0) return;
    const t0 = performance.now();
    const moved: string[] = [];
    for (const id of rescored) {
      const ad = index.get(id);
      if (!ad) continue;
      const score = scoreOf(ad);
      if (score === ad.score) continue;
      ad.score = score;
      moved.push(id);
    }
    index.reorderAds(moved);
    rescored.clear();
    metrics.held("rescore", t0);
  }

  /** Most one impression may take from a lease: CPM its bid, CPC its bid × predicted CTR (the expected cost). */
  const impressionReserve = (ad: ServingAd, ctr: number, price: number): number => (ad.bidKind === "cpm" ? price : Math.max(1, Math.ceil(price * 1000 * ctr)));
  /** Smallest useful lease: one impression at the bid (CPM), one click (CPC). */
  const leaseUnit = (ad: ServingAd): number => (ad.bidKind === "cpm" ? ad.bidMinor : ad.bidMinor * 1000);

  function leaseFor(campaignId: string): LeaseState {
    let s = leases.get(campaignId);
    if (!s) leases.set(campaignId, (s = newServingState(ctrFrom(0, 0))));
    return s;
  }

  interface LeaseAsk {
    ad: ServingAd;
    state: LeaseState;
    nowMs: number;
    done: () => void;
  }
  const leaseQueue = new Map<string, LeaseAsk>();
  let batchScheduled = false;
  let batchRunning = false;

  /**
   * Asks the shared campaign_day row for a slice, once at a time per
   * campaign, not before pacing allows. Asks are batched: one transaction
   * leases for up to LEASE_BATCH campaigns (a cold replica has thousands to lease).
   */
  function askLease(ad: ServingAd, state: LeaseState, nowMs: number): void {
    if (state.inFlight || nowMs < state.retryAtMs) return;
    state.inFlight = new Promise<void>((done) => leaseQueue.set(ad.campaignId, { ad, state, nowMs, done }));
    scheduleBatch();
  }

  function scheduleBatch(): void {
    if (batchScheduled || batchRunning) return;
    batchScheduled = true;
    setImmediate(() => void runBatch());
  }

  async function runBatch(): Promise<void> {
    batchScheduled = false;
    batchRunning = true;
    const asks = [...leaseQueue.values()].slice(0, LEASE_BATCH);
    for (const a of asks) leaseQueue.delete(a.ad.campaignId);
    try {
      await acquireLeases(asks);
    } catch (err) {
      log.warn({ err, campaigns: asks.length }, "budget leases failed");
      for (const a of asks) a.state.retryAtMs = a.nowMs + 1000;
    } finally {
      for (const a of asks) {
        a.state.inFlight = undefined;
        a.done();
      }
      batchRunning = false;
      if (leaseQueue.size > 0) scheduleBatch();
    }
  }

  async function acquireLeases(asks: LeaseAsk[]): Promise<void> {
    const t0 = performance.now();
    // One order for every replica's locks: no deadlock between two batches.
    asks.sort((a, b) => (a.ad.campaignId < b.ad.campaignId ? -1 : 1));
    const plans = asks.map((a) => {
      const unit = leaseUnit(a.ad);
      return { ...a, day: utcDay(a.nowMs), unit, slice: leaseSlice(a.ad.dailyBudgetMilli, unit, options.slicesPerDay), ceiling: pacedCeiling(a.ad.dailyBudgetMilli, a.nowMs, options.pacingAheadMs) };
    });
    // Yesterday's unspent leases go back first.
    const stale = plans.filter((p) => p.state.lease && p.state.lease.day !== p.day && p.state.lease.remainingMilli > 0);
    metrics.held("lease", t0);
    await releaseLeases(stale.map((p) => ({ campaignId: p.ad.campaignId, lease: p.state.lease! })));
    const results = await db.transaction().execute(async (trx) => {
      const ids = plans.map((p) => p.ad.campaignId);
      const days = plans.map((p) => p.day);
      await sql`
        INSERT INTO campaign_day (campaign_id, day, budget_milli)
        SELECT * FROM unnest(${ids}::uuid[], ${days}::date[], ${plans.map((p) => p.ad.dailyBudgetMilli)}::bigint[])
        ON CONFLICT DO NOTHING`.execute(trx);
      const rows = await sql<{ campaign_id: string; budget_milli: string; leased_milli: string; lifetime_budget_minor: string | null; lifetime_leased_milli: string; status: string }>`
        SELECT d.campaign_id, d.budget_milli, d.leased_milli, c.lifetime_budget_minor, c.lifetime_leased_milli, c.status
        FROM campaign_day d JOIN campaign c ON c.id = d.campaign_id
        JOIN unnest(${ids}::uuid[], ${days}::date[]) AS r(campaign_id, day) ON d.campaign_id = r.campaign_id AND d.day = r.day
        ORDER BY d.campaign_id FOR UPDATE`.execute(trx);
      const byId = new Map(rows.rows.map((r) => [r.campaign_id, r]));
      const out = plans.map((p) => {
        const row = byId.get(p.ad.campaignId);
        if (!row) return { p, grant: 0, leased: 0, budget: p.ad.dailyBudgetMilli, lifetimeLeft: 0 };
        const budget = Number(row.budget_milli);
        const leased = Number(row.leased_milli);
        const lifetimeLeft = row.lifetime_budget_minor === null ? Number.POSITIVE_INFINITY : Number(row.lifetime_budget_minor) * 1000 - Number(row.lifetime_leased_milli);
        const grant = row.status === "active" ? Math.min(p.slice, Math.min(budget, p.ceiling) - leased, lifetimeLeft) : 0;
        return { p, grant: grant >= p.unit ? grant : 0, leased, budget, lifetimeLeft };
      });
      const granted = out.filter((o) => o.grant > 0);
      if (granted.length > 0) {
        const gIds = granted.map((o) => o.p.ad.campaignId);
        const gDays = granted.map((o) => o.p.day);
        const grants = granted.map((o) => o.grant);
        await sql`
          UPDATE campaign_day d SET leased_milli = d.leased_milli + v.amount
          FROM unnest(${gIds}::uuid[], ${gDays}::date[], ${grants}::bigint[]) AS v(campaign_id, day, amount)
          WHERE d.campaign_id = v.campaign_id AND d.day = v.day`.execute(trx);
        await sql`
          UPDATE campaign c SET lifetime_leased_milli = c.lifetime_leased_milli + v.amount
          FROM unnest(${gIds}::uuid[], ${grants}::bigint[]) AS v(id, amount)
          WHERE c.id = v.id AND c.lifetime_budget_minor IS NOT NULL`.execute(trx);
      }
      return out;
    });
    const t1 = performance.now();
    for (const { p, grant, leased, budget, lifetimeLeft } of results) {
      const state = p.state;
      if (grant > 0) {
        const carried = state.lease && state.lease.day === p.day ? state.lease.remainingMilli : 0;
        state.lease = new Lease(p.day, carried + grant);
        state.retryAtMs = 0;
        continue;
      }
      // Refused: ask again when the even line reaches one more unit, or tomorrow when the day's budget is gone.
      const need = leased + p.unit;
      const tomorrow = dayStartMs(p.nowMs) + DAY_MS;
      if (need > budget || lifetimeLeft < p.unit) state.retryAtMs = tomorrow;
      else state.retryAtMs = Math.min(tomorrow, dayStartMs(p.nowMs) + Math.ceil((need * DAY_MS) / budget) - options.pacingAheadMs);
      if (state.lease && state.lease.day !== p.day) state.lease = undefined;
    }
    metrics.held("lease", t1);
  }

  /** Gives the unspent part of a lease back, so other replicas (and the lifetime budget) can use it. */
  function releaseLease(campaignId: string, lease: Lease): Promise<void> {
    return releaseLeases([{ campaignId, lease }]);
  }

  /** Many at once (a stopping replica holds one per campaign it served): one transaction. */
  async function releaseLeases(held: { campaignId: string; lease: Lease }[]): Promise<void> {
    const back = held.filter((h) => h.lease.remainingMilli > 0).sort((a, b) => (a.campaignId < b.campaignId ? -1 : 1));
    if (back.length === 0) return;
    const ids = back.map((h) => h.campaignId);
    const days = back.map((h) => h.lease.day);
    const amounts = back.map((h) => h.lease.remainingMilli);
    for (const h of back) h.lease.remainingMilli = 0;
    await db.transaction().execute(async (trx) => {
      await sql`
        UPDATE campaign_day d SET leased_milli = GREATEST(0, d.leased_milli - v.amount)
        FROM unnest(${ids}::uuid[], ${days}::date[], ${amounts}::bigint[]) AS v(campaign_id, day, amount)
        WHERE d.campaign_id = v.campaign_id AND d.day = v.day`.execute(trx);
      await sql`
        UPDATE campaign c SET lifetime_leased_milli = GREATEST(0, c.lifetime_leased_milli - v.amount)
        FROM (SELECT id, sum(amount) AS amount FROM unnest(${ids}::uuid[], ${amounts}::bigint[]) AS u(id, amount) GROUP BY id) AS v
        WHERE c.id = v.id AND c.lifetime_budget_minor IS NOT NULL`.execute(trx);
    });
  }

  /** The UTC day of an instant, its string made once per day (toISOString on every request showed in profiles). */
  let cachedDayStartMs = Number.NaN;
  let cachedDay = "";
  const dayOf = (ms: number): string => {
    const start = dayStartMs(ms);
    if (start !== cachedDayStartMs) {
      cachedDayStartMs = start;
      cachedDay = utcDay(ms);
    }
    return cachedDay;
  };

  function select(req: AdRequest): Served[] {
    const nowMs = ports.now().getTime();
    const day = dayOf(nowMs);
    const customerId = req.customerId;
    const consent = customerId ? personalization.get(customerId) : undefined;
    const query = req.query ? req.query.toLowerCase() : "";
    const viewer: Viewer = {
      customerId,
      personalized: consent?.on === true,
      country: req.country,
      region: req.region,
      language: req.language,
      age: req.age,
      interests: req.interests,
      query,
    };
    const room = customerId ? frequency.placementRoom(customerId, req.placement, options.placementDailyCap, nowMs) : Number.POSITIVE_INFINITY;
    const slots = Math.min(req.count, room);
    if (slots <= 0) return [];
    const known = customerId ? interactionsOf(customerId) : undefined;
    const seen = customerId ? frequency.of(customerId) : undefined;
    const eligible = (ad: ServingAd): boolean =>
      nowMs >= ad.startMs && nowMs < ad.endMs && matchesTargeting(ad.targeting, ad.businessId, viewer, known, nowMs) && frequency.allowsSeen(seen, ad.campaignId, ad.cap, nowMs);
    const bidders: Bidder<ServingAd>[] = [];
    // The best eCPMs among eligible bidders so far, highest first: once slots + 1 are known
    // (the last sets the price), an ad ranked below the lowest of them cannot change the outcome.
    const keep = slots + 1;
    const top: number[] = [];
    // Eligible ads met so far that bid or could bid soon (leased, lease on its way, or free to ask): leases are
    // asked only while fewer than `keep` are ahead, so a walk asks for the few ads that could win or set the price,
    // never for everything it passes (a cold replica would lease the whole index, and hold budget it never spends).
    let ahead = 0;
    index.start(req.placement, req.country, req.language, viewer.personalized, query.length > 0);
    for (let ad = index.next(); ad !== undefined; ad = index.next()) {
      if (top.length === keep && ad.score < top[keep - 1]!) break;
      const state = ad.state;
      const lease = state.lease;
      const ctr = state.ctr;
      // Budget first: on a cold replica most ads wait for a lease, and that check is the cheapest.
      if (lease === undefined || lease.day !== day || !lease.canSpend(impressionReserve(ad, ctr, ad.bidMinor))) {
        if (ahead < keep && (state.inFlight !== undefined || nowMs >= state.retryAtMs) && eligible(ad)) {
          ahead++;
          if (state.inFlight === undefined) askLease(ad, state, nowMs);
        }
        continue;
      }
      if (!eligible(ad)) continue;
      ahead++;
      const rate = options.rates[ad.currency];
      if (rate === undefined) continue;
      const bidder: Bidder<ServingAd> = { item: ad, kind: ad.bidKind, bidMinor: ad.bidMinor, ctr, rate };
      bidders.push(bidder);
      const ecpm = ecpmOf(bidder);
      // Insert in place (splice would allocate the array of what it removed).
      let at = top.length < keep ? top.length : keep - 1;
      if (top.length === keep && !(top[at]! < ecpm)) continue;
      while (at > 0 && top[at - 1]! < ecpm) {
        top[at] = top[at - 1]!;
        at--;
      }
      top[at] = ecpm;
    }
    const wins = runAuction(bidders, slots, options.reserveEcpm);
    const out: Served[] = [];
    for (const win of wins) {
      const ad = win.item;
      const state = ad.state;
      state.lease!.spend(impressionReserve(ad, state.ctr, win.price));
      if (customerId) frequency.record(customerId, ad.campaignId, req.placement, nowMs, ad.cap.perDay > 0 || ad.cap.perWeek > 0);
      const creative = ad.creatives[ad.rotation++ % ad.creatives.length]!;
      const impressionId = nextImpressionId(nowMs);
      pending.push(impressionId, ad, creative.id, customerId, req.placement, nowMs, ad.bidKind === "cpm" ? win.price : 0);
      const token = mintAdToken(options.tokenSecret, {
        impressionId,
        campaignId: ad.campaignId,
        creativeId: creative.id,
        customerId,
        placement: req.placement,
        servedAtMs: nowMs,
        kind: ad.bidKind,
        price: win.price,
      });
      out.push({ token, impressionId, campaignId: ad.campaignId, businessId: ad.businessId, objective: ad.objective, creative });
    }
    return out;
  }

  /**
   * Writes the served impressions: their rows, and each campaign-day's
   * spend and impression count (the settlement turns those into ledger
   * entries), in one transaction. A failed write keeps the batch for the next try.
   */
  async function flushOnce(): Promise<void> {
    if (pending.length === 0) return;
    const batch = pending;
    pending = new PendingBatch();
    let sharing: Promise<void> | undefined;
    if (ports.shareImpressions && batch.shared < batch.length) {
      sharing = shareBatch(batch, batch.shared);
      batch.shared = batch.length;
    }
    try {
      await writeBatch(batch);
    } catch (err) {
      log.warn({ err, impressions: batch.length }, "impression batch not written; kept for the next flush");
      pending = batch.prepend(pending, MAX_PENDING);
    }
    await sharing;
  }

  /**
   * Tells the other replicas what a batch served, from `from` on: SHARE_CHUNK
   * impressions per message and per event-loop turn (encoding a whole batch
   * at once held the loop for up to 10 ms at 2,000 selections/s). Best
   * effort, and never at the batch's expense.
   */
  async function shareBatch(batch: PendingBatch, from: number): Promise<void> {
    for (let at = from; at < batch.length; at += SHARE_CHUNK) {
      if (at > from) await new Promise<void>((resolve) => setImmediate(resolve));
      const t0 = performance.now();
      const seen: SeenImpression[] = [];
      const end = Math.min(batch.length, at + SHARE_CHUNK);
      for (let i = at; i < end; i++) if (batch.customers[i]) seen.push([batch.customers[i]!, batch.ads[i]!.campaignId, batch.placements[i]!, batch.atMs[i]!]);
      try {
        if (seen.length > 0) ports.shareImpressions!(seen);
      } catch (err) {
        log.warn({ err, impressions: batch.length - at }, "served impressions not shared with the other replicas");
        return;
      } finally {
        metrics.held("share", t0);
      }
    }
  }

  async function writeBatch(batch: PendingBatch): Promise<void> {
    const t0 = performance.now();
    const groups = new Map<string, { ad: ServingAd; day: string; cost: number; impressions: number }>();
    for (let i = 0; i < batch.length; i++) {
      const ad = batch.ads[i]!;
      const lastDay = dayOf(batch.atMs[i]!);
      const key = `${ad.campaignId}|${lastDay}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { ad, day: lastDay, cost: 0, impressions: 0 }));
      g.cost += batch.costMilli[i]!;
      g.impressions += 1;
    }
    // Rows in campaign order: every writer of campaign_day locks in that order (no deadlock between replicas).
    const list = [...groups.values()].sort((a, b) => (a.ad.campaignId === b.ad.campaignId ? (a.day < b.day ? -1 : 1) : a.ad.campaignId < b.ad.campaignId ? -1 : 1));
    // The statements' array literals, made before the transaction (pg-arrays.ts).
    const rows: string[][] = [];
    for (let i = 0; i < batch.length; i += WRITE_CHUNK) {
      const end = Math.min(batch.length, i + WRITE_CHUNK);
      const ads = batch.ads.slice(i, end);
      rows.push([
        plainArray(batch.ids.slice(i, end)),
        plainArray(ads.map((a) => a.campaignId)),
        textArray(ads.map((a) => a.businessId)),
        textArray(batch.creatives.slice(i, end)),
        textArray(batch.customers.slice(i, end)),
        textArray(batch.placements.slice(i, end)),
        plainArray(batch.atMs.slice(i, end)),
        plainArray(batch.costMilli.slice(i, end)),
      ]);
    }
    const days: string[][] = [];
    for (let i = 0; i < list.length; i += WRITE_CHUNK) {
      const chunk = list.slice(i, i + WRITE_CHUNK);
      days.push([
        plainArray(chunk.map((g) => g.ad.campaignId)),
        plainArray(chunk.map((g) => g.day)),
        plainArray(chunk.map((g) => g.ad.dailyBudgetMilli)),
        plainArray(chunk.map((g) => g.cost)),
        plainArray(chunk.map((g) => g.impressions)),
      ]);
    }
    metrics.held("flush", t0);
    await db.transaction().execute(async (trx) => {
      for (const [ids, campaigns, businesses, creatives, customers, placements, atMs, costs] of rows) {
        await sql`
          INSERT INTO impression (id, campaign_id, business_id, creative_id, customer_id, placement, served_at, cost_milli)
          SELECT id, campaign_id, business_id, creative_id, customer_id, placement, to_timestamp(at_ms::float8 / 1000), cost_milli
          FROM unnest(${ids}::uuid[], ${campaigns}::uuid[], ${businesses}::text[], ${creatives}::text[], ${customers}::text[], ${placements}::text[], ${atMs}::bigint[], ${costs}::bigint[])
            AS v(id, campaign_id, business_id, creative_id, customer_id, placement, at_ms, cost_milli)
          ON CONFLICT (id) DO NOTHING`.execute(trx);
      }
      for (const [campaigns, ds, budgets, costs, impressions] of days) {
        await sql`
          INSERT INTO campaign_day (campaign_id, day, budget_milli, spent_milli, impressions)
          SELECT * FROM unnest(${campaigns}::uuid[], ${ds}::date[], ${budgets}::bigint[], ${costs}::bigint[], ${impressions}::bigint[])
          ON CONFLICT (campaign_id, day) DO UPDATE SET spent_milli = campaign_day.spent_milli + excluded.spent_milli, impressions = campaign_day.impressions + excluded.impressions`.execute(trx);
      }
    });
    for (const g of list) settlement.note(g.ad.campaignId, g.day);
  }

  /** Drops frequency entries outside their windows, SWEEP_CHUNK customers per turn: requests are served in between. */
  function sweepFrequency(nowMs: number): void {
    const t0 = performance.now();
    const done = stopped || frequency.sweepSome(nowMs, SWEEP_CHUNK);
    metrics.held("frequency_sweep", t0);
    if (done) sweeping = false;
    else setImmediate(sweepFrequency, nowMs);
  }

  function flushImpressions(): Promise<void> {
    // One flush at a time; a caller arriving mid-flush waits for it and then writes what is left.
    const run = (flushing ?? Promise.resolve()).then(flushOnce);
    flushing = run.finally(() => {
      if (flushing === run) flushing = undefined;
    });
    return run;
  }

  async function loadCampaign(id: string): Promise<void> {
    const row = await findCampaign(db, id);
    const c = row ? campaignRowToCampaign(row) : undefined;
    if (c && c.status === "active" && c.objective !== "sponsored_message") indexAd(servingAdOf(c, leaseFor(c.id)));
    else {
      index.remove(id);
      const state = leases.get(id);
      if (state?.lease) await releaseLease(id, state.lease);
      leases.delete(id);
    }
  }

  return {
    index,
    select,
    /** Writes the served impressions, then settles this replica's campaign-days into the spend ledger. */
    async flush(): Promise<void> {
      await flushImpressions();
      await settlement.settle();
    },
    loadCampaign,
    /** The campaign-day counters changed outside serving (a CPC click, a sponsored message): settle that row. */
    noteSpend: (campaignId: string, day: string) => settlement.note(campaignId, day),

    /** Loads every servable campaign, the consents and interactions, and the click statistics. */
    async load(): Promise<void> {
      let after: string | undefined;
      for (;;) {
        const rows = await listServable(db, after, LOAD_PAGE);
        for (const r of rows) index.upsert(servingAdOf(campaignRowToCampaign(r), leaseFor(r.id)));
        if (rows.length < LOAD_PAGE) break;
        after = rows[rows.length - 1]!.id;
      }
      for (const r of await db.selectFrom("customer_consent").selectAll().execute()) {
        personalization.set(r.customer_id, { on: r.ad_personalization, atMs: r.changed_at.getTime() });
      }
      for (const r of await db.selectFrom("interaction").selectAll().execute()) {
        let byBusiness = interactions.get(r.customer_id);
        if (!byBusiness) interactions.set(r.customer_id, (byBusiness = new Map()));
        byBusiness.set(r.business_id, { messagedMs: r.last_messaged_at?.getTime(), orderedMs: r.last_ordered_at?.getTime() });
      }
      const counts = await db
        .selectFrom("spend_ledger")
        .select(["campaign_id", (eb) => eb.fn.sum<string>("impressions").as("impressions"), (eb) => eb.fn.sum<string>("clicks").as("clicks")])
        .groupBy("campaign_id")
        .execute();
      for (const c of counts) {
        const state = leaseFor(c.campaign_id);
        state.impressions = Number(c.impressions);
        state.clicks = Number(c.clicks);
        state.ctr = ctrFrom(state.impressions, state.clicks);
      }
      for (const { ad } of index.all()) ad.score = scoreOf(ad);
      index.reorder();
    },

    /** A consent.changed for ad personalization; older news than what is held is ignored. */
    setPersonalization(customerId: string, on: boolean, atMs: number): void {
      const held = personalization.get(customerId);
      if (held && held.atMs > atMs) return;
      personalization.set(customerId, { on, atMs });
    },

    noteInteraction(customerId: string, businessId: string, kind: "messaged" | "ordered", atMs: number): void {
      let byBusiness = interactions.get(customerId);
      if (!byBusiness) interactions.set(customerId, (byBusiness = new Map()));
      const held = byBusiness.get(businessId) ?? {};
      if (kind === "messaged") held.messagedMs = Math.max(held.messagedMs ?? 0, atMs);
      else held.orderedMs = Math.max(held.orderedMs ?? 0, atMs);
      byBusiness.set(businessId, held);
    },

    /** Impressions and clicks every replica served, from ads' own events: the CTR estimates. */
    addStats(campaignId: string, impressions: number, clicks: number): void {
      const s = leaseFor(campaignId);
      s.impressions += impressions;
      s.clicks += clicks;
      s.ctr = ctrFrom(s.impressions, s.clicks);
      // A CPM ad's rank does not depend on its CTR.
      if (index.get(campaignId)?.bidKind === "cpc") rescored.add(campaignId);
    },

    ctrOf,

    /** Impressions another replica served: they count towards this replica's frequency caps too. */
    noteSeen(seen: SeenImpression[]): void {
      for (const [customerId, campaignId, placement, atMs] of seen) {
        const cap = index.get(campaignId)?.cap;
        frequency.record(customerId, campaignId, placement, atMs, cap === undefined || cap.perDay > 0 || cap.perWeek > 0);
      }
    },

    /** Waits for the lease requests under way (tests and the bench drive a clock). */
    async settle(): Promise<void> {
      while (leaseQueue.size > 0 || batchRunning || [...leases.values()].some((s) => s.inFlight)) {
        await Promise.all([...leases.values()].map((s) => s.inFlight));
      }
    },

    start(): void {
      flushTimer = setInterval(() => {
        void flushImpressions();
        const nowMs = ports.now().getTime();
        if (nowMs - lastSweepMs >= SWEEP_MS && !sweeping) {
          lastSweepMs = nowMs;
          sweeping = true;
          sweepFrequency(nowMs);
        }
      }, options.flushMs);
      flushTimer.unref();
      rescoreTimer = setInterval(rescore, RESCORE_MS);
      rescoreTimer.unref();
      settleTimer = setInterval(() => void settlement.settle(), options.settleMs);
      settleTimer.unref();
      // A stopped replica may have left campaign-days unsettled: look back far once, then over two days now and then.
      void settlement.sweep(SETTLE_SWEEP_DAYS).catch((err: unknown) => log.warn({ err }, "spend sweep failed"));
      sweepTimer = setInterval(() => void settlement.sweep(2).catch((err: unknown) => log.warn({ err }, "spend sweep failed")), SETTLE_SWEEP_MS);
      sweepTimer.unref();
    },

    /** Writes what was served and gives back the unspent leases. */
    async stop(): Promise<void> {
      stopped = true;
      if (flushTimer) clearInterval(flushTimer);
      if (rescoreTimer) clearInterval(rescoreTimer);
      if (settleTimer) clearInterval(settleTimer);
      if (sweepTimer) clearInterval(sweepTimer);
      await flushImpressions();
      await settlement.settle();
      while (leaseQueue.size > 0 || batchRunning) await Promise.all([...leases.values()].map((s) => s.inFlight));
      const held = [...leases].filter(([, s]) => s.lease).map(([campaignId, s]) => ({ campaignId, lease: s.lease! }));
      for (let i = 0; i < held.length; i += 1000) {
        await releaseLeases(held.slice(i, i + 1000)).catch((err: unknown) => log.warn({ err, campaigns: held.length }, "leases not given back"));
      }
    },
  };
}

export type ServingEngine = ReturnType<typeof createServingEngine>;
