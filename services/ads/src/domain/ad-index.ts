import type { BidKind, Campaign, CampaignObjective, Creative, FrequencyCap } from "./campaign.js";
import type { Lease } from "./pacing.js";
import { compileTargeting, placements as allPlacements, type CompiledTargeting, type Placement } from "./targeting.js";

/** What this replica knows of a campaign while serving it: its budget lease and its CTR estimate. Kept when the campaign is re-indexed. */
export interface ServingState {
  lease: Lease | undefined;
  inFlight: Promise<void> | undefined;
  /** No lease is asked for before this instant (pacing or budget said no). */
  retryAtMs: number;
  impressions: number;
  clicks: number;
  /** Predicted CTR from impressions and clicks with the prior. */
  ctr: number;
}

export const newServingState = (ctr: number): ServingState => ({ lease: undefined, inFlight: undefined, retryAtMs: 0, impressions: 0, clicks: 0, ctr });

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
  state: ServingState;
}

const WILDCARD = "*";

/** Placements a campaign of this type may be shown in (sponsored messages are sent, never served). */
export function placementsOf(objective: CampaignObjective, wanted: readonly Placement[]): Placement[] {
  if (objective === "sponsored_message") return [];
  return wanted.length > 0 ? [...wanted] : [...allPlacements];
}

export function servingAdOf(c: Campaign, state: ServingState = newServingState(0)): ServingAd {
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
    state,
  };
}

/** The lists of a bucket, by what a viewer needs to match any of them. */
const PLAIN = 0;
/** Personal criteria: only viewers with ad personalization on can match. */
const PERSONAL = 1;
/** Search keywords: only requests with a query can match. */
const KEYWORD = 2;

const byScore = (a: ServingAd, b: ServingAd): number => b.score - a.score;

const listOf = (ad: ServingAd): number => (ad.targeting.keywords.length > 0 ? KEYWORD : ad.targeting.personalized ? PERSONAL : PLAIN);

interface Bucket {
  byId: Map<string, ServingAd>;
  /** By list kind, each by score, highest first; rebuilt on first use after an ad came or went. */
  sorted: [ServingAd[], ServingAd[], ServingAd[]] | undefined;
  /** Scores moved: the lists re-sort in place on first use (nearly sorted already, so that is about linear). */
  unordered: boolean;
}

type Buckets = Map<string, Map<string, Bucket>>;

/**
 * Active ads by placement, country and language, so a request looks at the
 * few buckets it can match (its own country and language, and the
 * untargeted ones) instead of every ad. Each bucket keeps three lists
 * ordered by score — contextual, personal, keyword — so a viewer without
 * personalization consent or a request without a query never walks ads it
 * cannot match, and a walk can stop once nothing left could win.
 */
export class AdIndex {
  private readonly ads = new Map<string, { ad: ServingAd; buckets: Bucket[] }>();
  private readonly byPlacement = new Map<Placement, Buckets>();
  /** Reused by every walk (one request at a time per process): no allocation per request. */
  private readonly lists: ServingAd[][] = [];
  private readonly at: number[] = [];
  private count = 0;

  get size(): number {
    return this.ads.size;
  }

  get(campaignId: string): ServingAd | undefined {
    return this.ads.get(campaignId)?.ad;
  }

  all(): IterableIterator<{ ad: ServingAd }> {
    return this.ads.values();
  }

  private bucket(placement: Placement, country: string, language: string, create: boolean): Bucket | undefined {
    let byCountry = this.byPlacement.get(placement);
    if (!byCountry) {
      if (!create) return undefined;
      this.byPlacement.set(placement, (byCountry = new Map()));
    }
    let byLanguage = byCountry.get(country);
    if (!byLanguage) {
      if (!create) return undefined;
      byCountry.set(country, (byLanguage = new Map()));
    }
    let bucket = byLanguage.get(language);
    if (!bucket && create) byLanguage.set(language, (bucket = { byId: new Map(), sorted: undefined, unordered: false }));
    return bucket;
  }

  upsert(ad: ServingAd): void {
    this.remove(ad.campaignId);
    const countries = ad.targeting.countries ? [...ad.targeting.countries] : [WILDCARD];
    const languages = ad.targeting.languages ? [...ad.targeting.languages] : [WILDCARD];
    const buckets: Bucket[] = [];
    for (const p of ad.placements) {
      for (const c of countries) {
        for (const l of languages) {
          const bucket = this.bucket(p, c, l, true)!;
          bucket.byId.set(ad.campaignId, ad);
          bucket.sorted = undefined;
          buckets.push(bucket);
        }
      }
    }
    this.ads.set(ad.campaignId, { ad, buckets });
  }

  remove(campaignId: string): void {
    const entry = this.ads.get(campaignId);
    if (!entry) return;
    // Empty buckets stay (a handful of map entries): removing them would need their keys.
    for (const bucket of entry.buckets) {
      bucket.byId.delete(campaignId);
      bucket.sorted = undefined;
    }
    this.ads.delete(campaignId);
  }

  /** Scores changed (CTR estimates moved): every bucket re-sorts on its next use. */
  reorder(): void {
    for (const byCountry of this.byPlacement.values()) for (const byLanguage of byCountry.values()) for (const bucket of byLanguage.values()) bucket.unordered = true;
  }

  /** These ads' scores changed: only their buckets re-sort. */
  reorderAds(campaignIds: Iterable<string>): void {
    for (const id of campaignIds) for (const bucket of this.ads.get(id)?.buckets ?? []) bucket.unordered = true;
  }

  private add(bucket: Bucket | undefined, personalized: boolean, withQuery: boolean): void {
    if (!bucket || bucket.byId.size === 0) return;
    if (!bucket.sorted) {
      const sorted: [ServingAd[], ServingAd[], ServingAd[]] = [[], [], []];
      for (const ad of bucket.byId.values()) sorted[listOf(ad)]!.push(ad);
      for (const list of sorted) list.sort(byScore);
      bucket.sorted = sorted;
      bucket.unordered = false;
    } else if (bucket.unordered) {
      for (const list of bucket.sorted) list.sort(byScore);
      bucket.unordered = false;
    }
    const [plain, personal, keyword] = bucket.sorted;
    if (plain.length > 0) this.push(plain);
    if (personalized && personal.length > 0) this.push(personal);
    if (withQuery && keyword.length > 0) this.push(keyword);
  }

  private push(list: ServingAd[]): void {
    this.lists[this.count] = list;
    this.at[this.count] = 0;
    this.count++;
  }

  /**
   * Starts a walk over every ad that may fit the placement, country and
   * language (personal ads only for a viewer with consent, keyword ads only
   * with a query), highest score first; `next` returns them one at a time.
   */
  start(placement: Placement, country: string, language: string, personalized: boolean, withQuery: boolean): void {
    this.count = 0;
    const byCountry = this.byPlacement.get(placement);
    if (!byCountry) return;
    if (country) this.addLanguages(byCountry.get(country), language, personalized, withQuery);
    this.addLanguages(byCountry.get(WILDCARD), language, personalized, withQuery);
  }

  private addLanguages(byLanguage: Map<string, Bucket> | undefined, language: string, personalized: boolean, withQuery: boolean): void {
    if (!byLanguage) return;
    if (language) this.add(byLanguage.get(language), personalized, withQuery);
    this.add(byLanguage.get(WILDCARD), personalized, withQuery);
  }

  /** The next candidate of the walk begun by start(), or undefined at its end. Each ad comes once (it sits in one bucket per key). */
  next(): ServingAd | undefined {
    let best = -1;
    let bestScore = 0;
    for (let i = 0; i < this.count; i++) {
      const ad = this.lists[i]![this.at[i]!];
      if (ad !== undefined && (best < 0 || ad.score > bestScore)) {
        best = i;
        bestScore = ad.score;
      }
    }
    if (best < 0) return undefined;
    return this.lists[best]![this.at[best]!++];
  }

  /** Visits the walk's candidates (personalized viewer, with a query); `visit` returns false to stop. */
  forCandidates(placement: Placement, country: string, language: string, visit: (ad: ServingAd) => boolean): void {
    this.start(placement, country, language, true, true);
    for (let ad = this.next(); ad; ad = this.next()) if (!visit(ad)) return;
  }
}
