export const DAY_MS = 86_400_000;

/** UTC day of an instant, "YYYY-MM-DD". */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dayStartMs(ms: number): number {
  return ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
}

/**
 * Even pacing: by `ms` a campaign may have leased at most the share of its
 * daily budget that the day has used up, plus what `aheadMs` would add (so
 * the first slice of the day is available at midnight).
 */
export function pacedCeiling(budgetMilli: number, ms: number, aheadMs: number): number {
  const elapsed = ms - dayStartMs(ms) + aheadMs;
  return Math.min(budgetMilli, Math.ceil((budgetMilli * elapsed) / DAY_MS));
}

/**
 * The size of one lease: a fraction of the daily budget, but never less than
 * one unit (one impression's or one click's most), so a lease always buys something.
 */
export function leaseSlice(budgetMilli: number, unitMilli: number, slicesPerDay: number): number {
  return Math.min(budgetMilli, Math.max(unitMilli, Math.ceil(budgetMilli / slicesPerDay)));
}

/**
 * What one replica holds of a campaign's day: budget leased from the shared
 * row and not yet spent. Spending only from a lease is what keeps replicas
 * together under the daily budget: the leases never add up to more.
 */
export class Lease {
  constructor(
    readonly day: string,
    public remainingMilli: number,
  ) {}

  canSpend(milli: number): boolean {
    return this.remainingMilli >= milli;
  }

  spend(milli: number): void {
    this.remainingMilli -= milli;
  }
}
