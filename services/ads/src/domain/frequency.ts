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

/** One customer's recent impressions: per capped campaign (a week) and per placement (a day). */
export interface Seen {
  campaigns: Map<string, number[]>;
  placements: Map<Placement, number[]>;
}

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
    const times = seen.campaigns.get(campaignId);
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
    const times = this.customers.get(customerId)?.placements.get(placement);
    return Math.max(0, perDay - (times ? countSince(times, nowMs - DAY_MS) : 0));
  }

  /** `capped` false: the campaign has no cap, only the placement's count matters. */
  record(customerId: string, campaignId: string, placement: Placement, nowMs: number, capped = true): void {
    let seen = this.customers.get(customerId);
    if (!seen) this.customers.set(customerId, (seen = { campaigns: new Map(), placements: new Map() }));
    if (capped) {
      // In place: the arrays are this ledger's own, and copying one per impression fed the garbage collector.
      const times = prune(seen.campaigns.get(campaignId) ?? [], nowMs, WEEK_MS);
      times.push(nowMs);
      seen.campaigns.set(campaignId, times);
    }
    const shown = prune(seen.placements.get(placement) ?? [], nowMs, DAY_MS);
    shown.push(nowMs);
    seen.placements.set(placement, shown);
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
      for (const [campaign, times] of seen.campaigns) {
        const kept = prune(times, nowMs, WEEK_MS);
        if (kept.length === 0) seen.campaigns.delete(campaign);
        else if (kept !== times) seen.campaigns.set(campaign, kept);
      }
      for (const [placement, times] of seen.placements) {
        const kept = prune(times, nowMs, DAY_MS);
        if (kept.length === 0) seen.placements.delete(placement);
        else if (kept !== times) seen.placements.set(placement, kept);
      }
      if (seen.campaigns.size === 0 && seen.placements.size === 0) this.customers.delete(customer);
    }
    return false;
  }
}
