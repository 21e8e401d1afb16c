import type { FrequencyCap } from "./campaign.js";
import type { Placement } from "./targeting.js";

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** Keeps only the times inside the window ending at now (times ascend). */
function prune(times: number[], nowMs: number, windowMs: number): number[] {
  let i = 0;
  while (i < times.length && nowMs - times[i]! >= windowMs) i++;
  return i === 0 ? times : times.slice(i);
}

function countSince(times: readonly number[], sinceMs: number): number {
  let n = 0;
  for (let i = times.length - 1; i >= 0 && times[i]! > sinceMs; i--) n++;
  return n;
}

/**
 * One customer's recent impressions: per capped campaign (a week), made on
 * the first capped one, and per placement (a day), by the placement's index.
 * An entry is made for nearly every request's viewer and lives for days, so
 * it is kept small: each one survives the young generation and is copied
 * into the old one.
 */
export interface Seen {
  campaigns: Map<string, number[]> | undefined;
  placements: [number[] | undefined, number[] | undefined, number[] | undefined];
}

const placementIndex: Readonly<Record<Placement, 0 | 1 | 2>> = { directory_search: 0, app_banner: 1, app_feed: 2 };

/**
 * Impressions per customer, for the frequency caps: per campaign in any 24
 * hours and any 7 days, and per placement (all campaigns) in any 24 hours.
 * Rolling windows: a cap of 2 per day lets the third impression through
 * exactly 24 hours after the first. One entry per customer, so a request
 * looks its viewer up once; campaigns without a cap are not tracked.
 */
export class FrequencyLedger {
  private readonly customers = new Map<string, Seen>();

  /** The customer's entry (undefined: nothing seen), for allowsSeen. */
  of(customerId: string): Seen | undefined {
    return this.customers.get(customerId);
  }

  /** Would one more impression of this campaign stay within its cap? */
  allowsSeen(seen: Seen | undefined, campaignId: string, cap: FrequencyCap, nowMs: number): boolean {
    if (!seen || (!cap.perDay && !cap.perWeek)) return true;
    const times = seen.campaigns?.get(campaignId);
    if (!times) return true;
    if (cap.perDay && countSince(times, nowMs - DAY_MS) >= cap.perDay) return false;
    if (cap.perWeek && countSince(times, nowMs - WEEK_MS) >= cap.perWeek) return false;
    return true;
  }

  allows(customerId: string, campaignId: string, cap: FrequencyCap, nowMs: number): boolean {
    return this.allowsSeen(this.of(customerId), campaignId, cap, nowMs);
  }

  /** Ads this customer may still see in the placement in the next 24 hours under a global cap (0: no cap). */
  placementRoom(customerId: string, placement: Placement, perDay: number, nowMs: number): number {
    if (!perDay) return Number.POSITIVE_INFINITY;
    const times = this.customers.get(customerId)?.placements[placementIndex[placement]];
    return Math.max(0, perDay - (times ? countSince(times, nowMs - DAY_MS) : 0));
  }

  /** `capped` false: the campaign has no cap, only the placement's count matters. */
  record(customerId: string, campaignId: string, placement: Placement, nowMs: number, capped = true): void {
    let seen = this.customers.get(customerId);
    if (!seen) this.customers.set(customerId, (seen = { campaigns: undefined, placements: [undefined, undefined, undefined] }));
    if (capped) {
      // In place: the arrays are this ledger's own, and copying one per impression fed the garbage collector.
      const campaigns = (seen.campaigns ??= new Map());
      const times = prune(campaigns.get(campaignId) ?? [], nowMs, WEEK_MS);
      times.push(nowMs);
      campaigns.set(campaignId, times);
    }
    const at = placementIndex[placement];
    const shown = prune(seen.placements[at] ?? [], nowMs, DAY_MS);
    shown.push(nowMs);
    seen.placements[at] = shown;
  }

  /** Drops what is outside its window, and customers with nothing left (bounded memory). */
  sweep(nowMs: number): void {
    while (!this.sweepSome(nowMs, Number.POSITIVE_INFINITY));
  }

  /** Where an unfinished sweep goes on (a Map's iterator sees entries added and skips entries deleted meanwhile). */
  private sweepAt: IterableIterator<[string, Seen]> | undefined;

  /** Sweeps at most `max` customers, from where the last call stopped; true once the pass has reached the end. */
  sweepSome(nowMs: number, max: number): boolean {
    const at = (this.sweepAt ??= this.customers.entries());
    for (let n = 0; n < max; n++) {
      const next = at.next();
      if (next.done) {
        this.sweepAt = undefined;
        return true;
      }
      const [customer, seen] = next.value;
      const campaigns = seen.campaigns;
      if (campaigns) {
        for (const [campaign, times] of campaigns) {
          const kept = prune(times, nowMs, WEEK_MS);
          if (kept.length === 0) campaigns.delete(campaign);
          else if (kept !== times) campaigns.set(campaign, kept);
        }
        if (campaigns.size === 0) seen.campaigns = undefined;
      }
      let shown = 0;
      for (let p = 0; p < 3; p++) {
        const times = seen.placements[p];
        if (!times) continue;
        const kept = prune(times, nowMs, DAY_MS);
        seen.placements[p] = kept.length === 0 ? undefined : kept;
        if (kept.length > 0) shown++;
      }
      if (!seen.campaigns && shown === 0) this.customers.delete(customer);
    }
    return false;
  }
}
