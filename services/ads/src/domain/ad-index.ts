import type { BidKind, Campaign, CampaignObjective, Creative, FrequencyCap } from "./campaign.js";
import { compileTargeting, placements as allPlacements, type CompiledTargeting, type Placement } from "./targeting.js";

/** An active campaign as the serving path needs it: numbers and sets, no parsing per request. */
export interface ServingAd {
  campaignId: string;
  businessId: string;
  objective: CampaignObjective;
  bidKind: BidKind;
  bidMinor: number;
  currency: string;
  dailyBudgetMilli: number;
  /** Undefined: no lifetime limit. */
  lifetimeBudgetMilli: number | undefined;
  targeting: CompiledTargeting;
  cap: FrequencyCap;
  creatives: readonly Creative[];
  startMs: number;
  endMs: number;
  placements: readonly Placement[];
  /** Creative rotation: the next creative index. */
  rotation: number;
  /** The eCPM this ad ranks with (ranking units), as of the last rescore: buckets are kept in this order. */
  score: number;
}

const WILDCARD = "*";

/** Placements a campaign of this type may be shown in (sponsored messages are sent, never served). */
export function placementsOf(objective: CampaignObjective, wanted: readonly Placement[]): Placement[] {
  if (objective === "sponsored_message") return [];
  return wanted.length > 0 ? [...wanted] : [...allPlacements];
}

export function servingAdOf(c: Campaign): ServingAd {
  return {
    campaignId: c.id,
    businessId: c.businessId,
    objective: c.objective,
    bidKind: c.bid.kind,
    bidMinor: Number(c.bid.amount.amountMinor),
    currency: c.bid.amount.currency,
    dailyBudgetMilli: Number(c.dailyBudget.amountMinor) * 1000,
    lifetimeBudgetMilli: c.lifetimeBudget ? Number(c.lifetimeBudget.amountMinor) * 1000 : undefined,
    targeting: compileTargeting(c.targeting),
    cap: c.frequencyCap,
    creatives: c.creatives,
    startMs: c.flight.startAt.getTime(),
    endMs: c.flight.endAt ? c.flight.endAt.getTime() : Number.POSITIVE_INFINITY,
    placements: placementsOf(c.objective, c.targeting.placements),
    rotation: 0,
    score: 0,
  };
}

interface Bucket {
  byId: Map<string, ServingAd>;
  /** By score, highest first; rebuilt on first use after a change. */
  sorted: ServingAd[] | undefined;
}

/**
 * Active ads by placement, country and language, so a request looks at the
 * few buckets it can match (its own country and language, and the
 * untargeted ones) instead of every ad; each bucket is ordered by score, so
 * a request can stop once nothing left could win.
 */
export class AdIndex {
  private readonly ads = new Map<string, { ad: ServingAd; keys: string[] }>();
  private readonly buckets = new Map<string, Bucket>();

  get size(): number {
    return this.ads.size;
  }

  get(campaignId: string): ServingAd | undefined {
    return this.ads.get(campaignId)?.ad;
  }

  all(): IterableIterator<{ ad: ServingAd }> {
    return this.ads.values();
  }

  upsert(ad: ServingAd): void {
    this.remove(ad.campaignId);
    const countries = ad.targeting.countries ? [...ad.targeting.countries] : [WILDCARD];
    const languages = ad.targeting.languages ? [...ad.targeting.languages] : [WILDCARD];
    const keys: string[] = [];
    for (const p of ad.placements) for (const c of countries) for (const l of languages) keys.push(`${p}|${c}|${l}`);
    for (const key of keys) {
      let bucket = this.buckets.get(key);
      if (!bucket) this.buckets.set(key, (bucket = { byId: new Map(), sorted: undefined }));
      bucket.byId.set(ad.campaignId, ad);
      bucket.sorted = undefined;
    }
    this.ads.set(ad.campaignId, { ad, keys });
  }

  remove(campaignId: string): void {
    const entry = this.ads.get(campaignId);
    if (!entry) return;
    for (const key of entry.keys) {
      const bucket = this.buckets.get(key);
      if (!bucket) continue;
      bucket.byId.delete(campaignId);
      bucket.sorted = undefined;
      if (bucket.byId.size === 0) this.buckets.delete(key);
    }
    this.ads.delete(campaignId);
  }

  /** Scores changed (CTR estimates moved): every bucket re-sorts on its next use. */
  reorder(): void {
    for (const bucket of this.buckets.values()) bucket.sorted = undefined;
  }

  private sortedOf(key: string): ServingAd[] | undefined {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    if (!bucket.sorted) bucket.sorted = [...bucket.byId.values()].sort((a, b) => b.score - a.score);
    return bucket.sorted;
  }

  /**
   * Visits every ad that may fit the placement, country and language, each
   * once, highest score first across the buckets; `visit` returns false to stop.
   */
  forCandidates(placement: Placement, country: string, language: string, visit: (ad: ServingAd) => boolean): void {
    const lists: ServingAd[][] = [];
    const seen = new Set<string>();
    for (const c of country ? [country, WILDCARD] : [WILDCARD]) {
      for (const l of language ? [language, WILDCARD] : [WILDCARD]) {
        const key = `${placement}|${c}|${l}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const list = this.sortedOf(key);
        if (list && list.length > 0) lists.push(list);
      }
    }
    const at = new Array<number>(lists.length).fill(0);
    for (;;) {
      let best = -1;
      for (let i = 0; i < lists.length; i++) {
        const ad = lists[i]![at[i]!];
        if (ad && (best < 0 || ad.score > lists[best]![at[best]!]!.score)) best = i;
      }
      if (best < 0) return;
      const ad = lists[best]![at[best]!++]!;
      if (!visit(ad)) return;
    }
  }
}
