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
  };
}

/**
 * Active ads by placement, country and language, so a request looks at the
 * few buckets it can match (its own country and language, and the
 * untargeted ones) instead of every ad.
 */
export class AdIndex {
  private readonly ads = new Map<string, { ad: ServingAd; keys: string[] }>();
  private readonly buckets = new Map<string, Map<string, ServingAd>>();

  get size(): number {
    return this.ads.size;
  }

  get(campaignId: string): ServingAd | undefined {
    return this.ads.get(campaignId)?.ad;
  }

  upsert(ad: ServingAd): void {
    this.remove(ad.campaignId);
    const countries = ad.targeting.countries ? [...ad.targeting.countries] : [WILDCARD];
    const languages = ad.targeting.languages ? [...ad.targeting.languages] : [WILDCARD];
    const keys: string[] = [];
    for (const p of ad.placements) for (const c of countries) for (const l of languages) keys.push(`${p}|${c}|${l}`);
    for (const key of keys) {
      let bucket = this.buckets.get(key);
      if (!bucket) this.buckets.set(key, (bucket = new Map()));
      bucket.set(ad.campaignId, ad);
    }
    this.ads.set(ad.campaignId, { ad, keys });
  }

  remove(campaignId: string): void {
    const entry = this.ads.get(campaignId);
    if (!entry) return;
    for (const key of entry.keys) {
      const bucket = this.buckets.get(key);
      bucket?.delete(campaignId);
      if (bucket?.size === 0) this.buckets.delete(key);
    }
    this.ads.delete(campaignId);
  }

  /** Calls `visit` once for every ad that may fit the placement, country and language. */
  forCandidates(placement: Placement, country: string, language: string, visit: (ad: ServingAd) => void): void {
    const seen = new Set<string>();
    for (const c of country ? [country, WILDCARD] : [WILDCARD]) {
      for (const l of language ? [language, WILDCARD] : [WILDCARD]) {
        const key = `${placement}|${c}|${l}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const bucket = this.buckets.get(key);
        if (bucket) for (const ad of bucket.values()) visit(ad);
      }
    }
  }
}
