import type { BidKind } from "./campaign.js";

/** A bidder in one auction. Bids are in the campaign's minor units; `rate` converts one minor unit to the ranking unit. */
export interface Bidder<T> {
  item: T;
  kind: BidKind;
  /** CPM: per 1000 impressions; CPC: per click. */
  bidMinor: number;
  /** Predicted click-through rate, 0-1. */
  ctr: number;
  /** Ranking units per minor unit of the campaign's currency. */
  rate: number;
}

export interface Win<T> {
  item: T;
  /** Ranking units per 1000 impressions. */
  ecpm: number;
  /** What the winner pays: CPM in thousandths of a minor unit per impression (= minor per mille), CPC in minor units per click. */
  price: number;
}

const EPS = 1e-9;

/** Expected value of 1000 impressions, in ranking units: CPM bids as they are, CPC bids × predicted CTR. */
export function ecpmOf(b: Pick<Bidder<unknown>, "kind" | "bidMinor" | "ctr" | "rate">): number {
  return b.kind === "cpm" ? b.bidMinor * b.rate : b.bidMinor * b.ctr * 1000 * b.rate;
}

/** Converts a clearing eCPM back into the winner's own price, never above its bid. */
function priceOf(b: Bidder<unknown>, clearingEcpm: number): number {
  if (b.kind === "cpm") return Math.min(b.bidMinor, Math.max(1, Math.ceil(clearingEcpm / b.rate - EPS)));
  return Math.min(b.bidMinor, Math.max(1, Math.ceil(clearingEcpm / (b.rate * b.ctr * 1000) - EPS)));
}

/**
 * Generalised second-price auction for `slots` slots: bidders ranked by eCPM
 * (ties keep their given order); the winner of slot i pays what it takes to
 * keep its rank, the eCPM of the bidder ranked below it (or the reserve),
 * converted into its own bid kind and currency, and never more than its bid.
 * Bidders under the reserve do not take part.
 */
export function runAuction<T>(bidders: readonly Bidder<T>[], slots: number, reserveEcpm: number): Win<T>[] {
  // Only the top slots + 1 matter (the last one sets the price): a bounded
  // insertion keeps selection linear in the bidders instead of a full sort.
  const keep = slots + 1;
  const top: { b: Bidder<T>; ecpm: number }[] = [];
  for (const b of bidders) {
    const ecpm = ecpmOf(b);
    if (!(ecpm >= reserveEcpm) || ecpm <= 0) continue;
    if (top.length === keep && ecpm <= top[keep - 1]!.ecpm) continue;
    // Insert in place, dropping the last when full (splice would allocate the array of what it removed).
    let at = top.length < keep ? top.length : keep - 1;
    while (at > 0 && top[at - 1]!.ecpm < ecpm) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = { b, ecpm };
  }
  const wins: Win<T>[] = [];
  for (let s = 0; s < Math.min(slots, top.length); s++) {
    const r = top[s]!;
    const next = top[s + 1]?.ecpm ?? reserveEcpm;
    wins.push({ item: r.b.item, ecpm: r.ecpm, price: priceOf(r.b, Math.max(next, reserveEcpm)) });
  }
  return wins;
}

/** Per-ad CTR: observed clicks over impressions, pulled towards a prior worth `priorImpressions` impressions. */
export function predictedCtr(clicks: number, impressions: number, priorCtr: number, priorImpressions: number): number {
  return (clicks + priorCtr * priorImpressions) / (impressions + priorImpressions);
}
