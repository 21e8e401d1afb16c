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
 * Impressions per customer, for the frequency caps: per campaign in any 24
 * hours and any 7 days, and per placement (all campaigns) in any 24 hours.
 * Rolling windows: a cap of 2 per day lets the third impression through
 * exactly 24 hours after the first.
 */
export class FrequencyLedger {
  private readonly campaigns = new Map<string, Map<string, number[]>>();
  private readonly placements = new Map<string, Map<Placement, number[]>>();

  /** Would one more impression of this campaign stay within its cap? */
  allows(customerId: string, campaignId: string, cap: FrequencyCap, nowMs: number): boolean {
    if (!cap.perDay && !cap.perWeek) return true;
    const times = this.campaigns.get(customerId)?.get(campaignId);
    if (!times) return true;
    if (cap.perDay && countSince(times, nowMs - DAY_MS) >= cap.perDay) return false;
    if (cap.perWeek && countSince(times, nowMs - WEEK_MS) >= cap.perWeek) return false;
    return true;
  }

  /** Ads this customer may still see in the placement in the next 24 hours under a global cap (0: no cap). */
  placementRoom(customerId: string, placement: Placement, perDay: number, nowMs: number): number {
    if (!perDay) return Number.POSITIVE_INFINITY;
    const times = this.placements.get(customerId)?.get(placement);
    return Math.max(0, perDay - (times ? countSince(times, nowMs - DAY_MS) : 0));
  }

  record(customerId: string, campaignId: string, placement: Placement, nowMs: number): void {
    let byCampaign = this.campaigns.get(customerId);
    if (!byCampaign) this.campaigns.set(customerId, (byCampaign = new Map()));
    // In place: the arrays are this ledger's own, and copying one per impression fed the garbage collector.
    const times = prune(byCampaign.get(campaignId) ?? [], nowMs, WEEK_MS);
    times.push(nowMs);
    byCampaign.set(campaignId, times);
    let byPlacement = this.placements.get(customerId);
    if (!byPlacement) this.placements.set(customerId, (byPlacement = new Map()));
    const shown = prune(byPlacement.get(placement) ?? [], nowMs, DAY_MS);
    shown.push(nowMs);
    byPlacement.set(placement, shown);
  }

  /** Drops customers with nothing inside the week (bounded memory). */
  sweep(nowMs: number): void {
    for (const [customer, byCampaign] of this.campaigns) {
      for (const [campaign, times] of byCampaign) {
        const kept = prune(times, nowMs, WEEK_MS);
        if (kept.length === 0) byCampaign.delete(campaign);
        else if (kept !== times) byCampaign.set(campaign, kept);
      }
      if (byCampaign.size === 0) {
        this.campaigns.delete(customer);
        this.placements.delete(customer);
      }
    }
  }
}
