import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdsDatabase } from "../store/database.js";
import { listServable, findCampaign } from "../store/campaign-store.js";
import { campaignRowToCampaign } from "../domain/campaign-service.js";
import { AdIndex, servingAdOf, type ServingAd } from "../domain/ad-index.js";
import { ecpmOf, runAuction, predictedCtr, type Bidder } from "../domain/auction.js";
import { FrequencyLedger } from "../domain/frequency.js";
import { DAY_MS, Lease, dayStartMs, leaseSlice, pacedCeiling, utcDay } from "../domain/pacing.js";
import { matchesTargeting, type Interactions, type Placement, type Viewer } from "../domain/targeting.js";
import { mintAdToken } from "../domain/ad-token.js";
import type { Creative } from "../domain/campaign.js";
import { spendRecordedEvent, type SpendEntry } from "../events/outbox.js";

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

interface PendingImpression {
  id: string;
  campaignId: string;
  businessId: string;
  creativeId: string;
  customerId: string;
  placement: Placement;
  servedAtMs: number;
  /** CPM: the price (thousandths of a minor unit); CPC impressions cost nothing until clicked. */
  costMilli: number;
  currency: string;
  /** Already told to the other replicas (a batch kept for a retry is not told twice). */
  shared?: boolean;
}

interface LeaseState {
  lease: Lease | undefined;
  inFlight: Promise<void> | undefined;
  /** No lease is asked for before this instant (pacing or budget said no). */
  retryAtMs: number;
}

const MAX_PENDING = 200_000;
const LOAD_PAGE = 5000;
/** How often ads are re-ranked by their CTR estimates (ms). */
const RESCORE_MS = 5000;
/** Campaigns leased in one transaction. */
const LEASE_BATCH = 500;

/**
 * Serving from memory: the active ads (index), each replica's budget leases,
 * frequency counts, consent and prior interactions, kept fresh by events.
 * A request reads no table; leases and the impression batches are written
 * off the request path.
 */
export function createServingEngine(ports: ServingPorts, options: ServingOptions) {
  const { db, log } = ports;
  const index = new AdIndex();
  const frequency = new FrequencyLedger();
  const leases = new Map<string, LeaseState>();
  const stats = new Map<string, { impressions: number; clicks: number }>();
  /** customer → ad personalization on (absent: off, messaging's default). */
  const personalization = new Map<string, { on: boolean; atMs: number }>();
  /** customer → business → last messaged / ordered (ms). */
  const interactions = new Map<string, Map<string, { messagedMs?: number; orderedMs?: number }>>();
  let pending: PendingImpression[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  let rescoreTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;

  const interactionsOf = (customerId: string): Interactions | undefined => {
    const byBusiness = interactions.get(customerId);
    if (!byBusiness) return undefined;
    return {
      lastMessagedMs: (b) => byBusiness.get(b)?.messagedMs,
      lastOrderedMs: (b) => byBusiness.get(b)?.orderedMs,
    };
  };

  const ctrOf = (campaignId: string): number => {
    const s = stats.get(campaignId);
    return predictedCtr(s?.clicks ?? 0, s?.impressions ?? 0, options.priorCtr, options.priorImpressions);
  };

  const scoreOf = (ad: ServingAd): number => ecpmOf({ kind: ad.bidKind, bidMinor: ad.bidMinor, ctr: ctrOf(ad.campaignId), rate: options.rates[ad.currency] ?? 0 });
  const indexAd = (ad: ServingAd): void => {
    ad.score = scoreOf(ad);
    index.upsert(ad);
  };
  function rescore(): void {
    for (const { ad } of index.all()) ad.score = scoreOf(ad);
    index.reorder();
  }

  /** Most one impression may take from a lease: CPM its bid, CPC its bid × predicted CTR (the expected cost). */
  const impressionReserve = (ad: ServingAd, ctr: number, price: number): number => (ad.bidKind === "cpm" ? price : Math.max(1, Math.ceil(price * 1000 * ctr)));
  /** Smallest useful lease: one impression at the bid (CPM), one click (CPC). */
  const leaseUnit = (ad: ServingAd): number => (ad.bidKind === "cpm" ? ad.bidMinor : ad.bidMinor * 1000);

  function leaseFor(campaignId: string): LeaseState {
    let s = leases.get(campaignId);
    if (!s) leases.set(campaignId, (s = { lease: undefined, inFlight: undefined, retryAtMs: 0 }));
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
    // One order for every replica's locks: no deadlock between two batches.
    asks.sort((a, b) => (a.ad.campaignId < b.ad.campaignId ? -1 : 1));
    const plans = asks.map((a) => {
      const unit = leaseUnit(a.ad);
      return { ...a, day: utcDay(a.nowMs), unit, slice: leaseSlice(a.ad.dailyBudgetMilli, unit, options.slicesPerDay), ceiling: pacedCeiling(a.ad.dailyBudgetMilli, a.nowMs, options.pacingAheadMs) };
    });
    // Yesterday's unspent leases go back first.
    const stale = plans.filter((p) => p.state.lease && p.state.lease.day !== p.day && p.state.lease.remainingMilli > 0);
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
          WHERE c.id = v.id`.execute(trx);
      }
      return out;
    });
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
        WHERE c.id = v.id`.execute(trx);
    });
  }

  function select(req: AdRequest): Served[] {
    const nowMs = ports.now().getTime();
    const day = utcDay(nowMs);
    const customerId = req.customerId;
    const consent = customerId ? personalization.get(customerId) : undefined;
    const viewer: Viewer = {
      customerId,
      personalized: consent?.on === true,
      country: req.country,
      region: req.region,
      language: req.language,
      age: req.age,
      interests: req.interests,
      query: req.query.toLowerCase(),
    };
    const room = customerId ? frequency.placementRoom(customerId, req.placement, options.placementDailyCap, nowMs) : Number.POSITIVE_INFINITY;
    const slots = Math.min(req.count, room);
    if (slots <= 0) return [];
    const known = customerId ? interactionsOf(customerId) : undefined;
    const bidders: Bidder<ServingAd>[] = [];
    // The best eCPMs among eligible bidders so far, highest first: once slots + 1 are known
    // (the last sets the price), an ad ranked below the lowest of them cannot change the outcome.
    const keep = slots + 1;
    const top: number[] = [];
    index.forCandidates(req.placement, req.country, req.language, (ad) => {
      if (top.length === keep && ad.score < top[keep - 1]!) return false;
      if (nowMs < ad.startMs || nowMs >= ad.endMs) return true;
      if (!matchesTargeting(ad.targeting, ad.businessId, viewer, known, nowMs)) return true;
      if (customerId && !frequency.allows(customerId, ad.campaignId, ad.cap, nowMs)) return true;
      const rate = options.rates[ad.currency];
      if (rate === undefined) return true;
      const ctr = ctrOf(ad.campaignId);
      const state = leaseFor(ad.campaignId);
      const lease = state.lease;
      if (!lease || lease.day !== day || !lease.canSpend(impressionReserve(ad, ctr, ad.bidMinor))) {
        askLease(ad, state, nowMs);
        return true;
      }
      const bidder: Bidder<ServingAd> = { item: ad, kind: ad.bidKind, bidMinor: ad.bidMinor, ctr, rate };
      bidders.push(bidder);
      const ecpm = ecpmOf(bidder);
      let at = top.length;
      while (at > 0 && top[at - 1]! < ecpm) at--;
      top.splice(at, 0, ecpm);
      if (top.length > keep) top.pop();
      return true;
    });
    const wins = runAuction(bidders, slots, options.reserveEcpm);
    const out: Served[] = [];
    for (const win of wins) {
      const ad = win.item;
      const ctr = ctrOf(ad.campaignId);
      const state = leaseFor(ad.campaignId);
      state.lease!.spend(impressionReserve(ad, ctr, win.price));
      if (customerId) frequency.record(customerId, ad.campaignId, req.placement, nowMs);
      const creative = ad.creatives[ad.rotation++ % ad.creatives.length]!;
      const impressionId = randomUUID();
      const costMilli = ad.bidKind === "cpm" ? win.price : 0;
      pending.push({ id: impressionId, campaignId: ad.campaignId, businessId: ad.businessId, creativeId: creative.id, customerId, placement: req.placement, servedAtMs: nowMs, costMilli, currency: ad.currency });
      const token = mintAdToken(options.tokenSecret, {
        impressionId,
        campaignId: ad.campaignId,
        businessId: ad.businessId,
        creativeId: creative.id,
        customerId,
        placement: req.placement,
        servedAtMs: nowMs,
        kind: ad.bidKind,
        price: win.price,
        currency: ad.currency,
      });
      out.push({ token, impressionId, campaignId: ad.campaignId, businessId: ad.businessId, objective: ad.objective, creative });
    }
    return out;
  }

  /**
   * Writes the served impressions: rows, each campaign-day's spend, one
   * ledger entry and spend.recorded per campaign-day, in one transaction.
   * A failed write keeps the batch for the next try.
   */
  async function flushOnce(): Promise<void> {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    if (ports.shareImpressions) {
      const seen: SeenImpression[] = [];
      for (const i of batch) if (i.customerId && !i.shared) seen.push([i.customerId, i.campaignId, i.placement, i.servedAtMs]);
      for (const i of batch) i.shared = true;
      if (seen.length > 0) ports.shareImpressions(seen);
    }
    try {
      await writeBatch(batch);
    } catch (err) {
      log.warn({ err, impressions: batch.length }, "impression batch not written; kept for the next flush");
      pending = batch.concat(pending).slice(0, MAX_PENDING);
    }
  }

  async function writeBatch(batch: PendingImpression[]): Promise<void> {
    const at = ports.now();
    const groups = new Map<string, { campaignId: string; businessId: string; day: string; cost: number; impressions: number; currency: string }>();
    for (const i of batch) {
      const day = utcDay(i.servedAtMs);
      const key = `${i.campaignId}|${day}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { campaignId: i.campaignId, businessId: i.businessId, day, cost: 0, impressions: 0, currency: i.currency }));
      g.cost += i.costMilli;
      g.impressions += 1;
    }
    await db.transaction().execute(async (trx) => {
      for (let i = 0; i < batch.length; i += 1000) {
        await trx
          .insertInto("impression")
          .values(
            batch.slice(i, i + 1000).map((p) => ({
              id: p.id,
              campaign_id: p.campaignId,
              business_id: p.businessId,
              creative_id: p.creativeId,
              customer_id: p.customerId,
              placement: p.placement,
              served_at: new Date(p.servedAtMs),
              cost_milli: p.costMilli,
            })),
          )
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
      }
      const list = [...groups.values()];
      const spentAfter = new Map<string, number>();
      const charged = list.filter((g) => g.cost > 0);
      for (let i = 0; i < charged.length; i += 1000) {
        const chunk = charged.slice(i, i + 1000);
        const values = sql.join(chunk.map((g) => sql`(${g.campaignId}::uuid, ${g.day}::date, ${g.cost}::bigint)`));
        const rows = await sql<{ campaign_id: string; day: string; spent_milli: string }>`
          UPDATE campaign_day d SET spent_milli = d.spent_milli + v.cost
          FROM (VALUES ${values}) AS v(campaign_id, day, cost)
          WHERE d.campaign_id = v.campaign_id AND d.day = v.day
          RETURNING d.campaign_id, to_char(d.day, 'YYYY-MM-DD') AS day, d.spent_milli`.execute(trx);
        for (const r of rows.rows) spentAfter.set(`${r.campaign_id}|${r.day}`, Number(r.spent_milli));
      }
      const entries: SpendEntry[] = list.map((g) => {
        const after = spentAfter.get(`${g.campaignId}|${g.day}`) ?? g.cost;
        // Whole minor units crossed by this batch: entries add up to the day's spend, rounded down.
        const amountMinor = Math.floor(after / 1000) - Math.floor((after - g.cost) / 1000);
        return { entryId: randomUUID(), campaignId: g.campaignId, businessId: g.businessId, day: g.day, amountMinor, currency: g.currency, impressions: g.impressions, clicks: 0, at };
      });
      for (let i = 0; i < entries.length; i += 1000) {
        await trx
          .insertInto("spend_ledger")
          .values(
            entries.slice(i, i + 1000).map((e) => ({
              id: e.entryId,
              campaign_id: e.campaignId,
              business_id: e.businessId,
              day: e.day,
              amount_milli: groups.get(`${e.campaignId}|${e.day}`)!.cost,
              amount_minor: e.amountMinor,
              currency: e.currency,
              impressions: e.impressions,
              clicks: 0,
              recorded_at: at,
            })),
          )
          .execute();
      }
      await ports.enqueue(trx, entries.map(spendRecordedEvent));
    });
  }

  function flush(): Promise<void> {
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
    if (c && c.status === "active" && c.objective !== "sponsored_message") indexAd(servingAdOf(c));
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
    flush,
    loadCampaign,

    /** Loads every servable campaign, the consents and interactions, and the click statistics. */
    async load(): Promise<void> {
      let after: string | undefined;
      for (;;) {
        const rows = await listServable(db, after, LOAD_PAGE);
        for (const r of rows) index.upsert(servingAdOf(campaignRowToCampaign(r)));
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
      for (const c of counts) stats.set(c.campaign_id, { impressions: Number(c.impressions), clicks: Number(c.clicks) });
      rescore();
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
      const s = stats.get(campaignId) ?? { impressions: 0, clicks: 0 };
      s.impressions += impressions;
      s.clicks += clicks;
      stats.set(campaignId, s);
    },

    ctrOf,

    /** Impressions another replica served: they count towards this replica's frequency caps too. */
    noteSeen(seen: SeenImpression[]): void {
      for (const [customerId, campaignId, placement, atMs] of seen) frequency.record(customerId, campaignId, placement, atMs);
    },

    /** Waits for the lease requests under way (tests and the bench drive a clock). */
    async settle(): Promise<void> {
      while (leaseQueue.size > 0 || batchRunning || [...leases.values()].some((s) => s.inFlight)) {
        await Promise.all([...leases.values()].map((s) => s.inFlight));
      }
    },

    start(): void {
      flushTimer = setInterval(() => {
        void flush();
        frequency.sweep(ports.now().getTime());
      }, options.flushMs);
      flushTimer.unref();
      rescoreTimer = setInterval(rescore, RESCORE_MS);
      rescoreTimer.unref();
    },

    /** Writes what was served and gives back the unspent leases. */
    async stop(): Promise<void> {
      if (flushTimer) clearInterval(flushTimer);
      if (rescoreTimer) clearInterval(rescoreTimer);
      await flush();
      while (leaseQueue.size > 0 || batchRunning) await Promise.all([...leases.values()].map((s) => s.inFlight));
      const held = [...leases].filter(([, s]) => s.lease).map(([campaignId, s]) => ({ campaignId, lease: s.lease! }));
      for (let i = 0; i < held.length; i += 1000) {
        await releaseLeases(held.slice(i, i + 1000)).catch((err: unknown) => log.warn({ err, campaigns: held.length }, "leases not given back"));
      }
    },
  };
}

export type ServingEngine = ReturnType<typeof createServingEngine>;
