import { DAY_MS, type Clock } from "./clock.js";
import { HIGH_THROUGHPUT_PER_SECOND, DEFAULT_THROUGHPUT_PER_SECOND } from "./limits.js";
import type { Quality } from "./quality.js";
import { refuse, type Refusal } from "./refusals.js";

/** Cloud API §9.2 (the current model): unique customers a business may start conversations with per rolling 24 h. */
export const TIERS = [
  { name: "TIER_250", limit: 250 },
  { name: "TIER_2K", limit: 2_000 },
  { name: "TIER_10K", limit: 10_000 },
  { name: "TIER_100K", limit: 100_000 },
  { name: "TIER_UNLIMITED", limit: Number.POSITIVE_INFINITY },
] as const;
export type TierName = (typeof TIERS)[number]["name"];

export interface TierOptions {
  /** The rolling window customers are counted in: 24 h. */
  readonly windowMs: number;
  /** An upgrade needs this share of the limit used … */
  readonly upgradeShare: number;
  /** … at some moment within this long before it: 7 days. */
  readonly upgradeLookbackMs: number;
}

export const DEFAULT_TIER_OPTIONS: TierOptions = Object.freeze({ windowMs: DAY_MS, upgradeShare: 0.5, upgradeLookbackMs: 7 * DAY_MS });

/**
 * One business's messaging limit for business-initiated conversations
 * (counted per business, shared by its numbers, as the Cloud API counts per
 * portfolio). The unique set is a map customer → when they were counted;
 * a map iterates in insertion order, which is counting order, so expiry
 * pops from its front, and only when the oldest entry is due (a number
 * compare otherwise). A customer counts once per 24 h from when they were
 * counted; sending to one already counted allocates nothing.
 */
export class MessagingLimit {
  private readonly counted = new Map<string, number>();
  /** When the oldest counted customer leaves the window. */
  private nextExpiry = Number.POSITIVE_INFINITY;
  /** Last moment the count stood at or above upgradeShare of the limit; 0 = not since the last upgrade. */
  private shareReachedAt = 0;
  private tierIndex: number;

  constructor(
    private readonly clock: Clock,
    tier: TierName = "TIER_250",
    private readonly options: TierOptions = DEFAULT_TIER_OPTIONS,
  ) {
    this.tierIndex = TIERS.findIndex((t) => t.name === tier);
  }

  get tier(): TierName {
    return TIERS[this.tierIndex]!.name;
  }

  get limit(): number {
    return TIERS[this.tierIndex]!.limit;
  }

  /** Unique customers in the window ending now. */
  usage(): number {
    this.expire(this.clock.now());
    return this.counted.size;
  }

  /**
   * A business-initiated send to this customer (a template outside the
   * customer service window): counts them if not counted in the last 24 h, or
   * refuses with 131048 when that would pass the limit. A refused send counts
   * nothing.
   */
  check(customerId: string): Refusal | undefined {
    const now = this.clock.now();
    if (now >= this.nextExpiry) this.expire(now);
    if (this.counted.has(customerId)) return undefined;
    const limit = this.limit;
    if (this.counted.size >= limit) return refuse.messagingLimit(this.tier, limit);
    this.counted.set(customerId, now);
    if (this.counted.size === 1) this.nextExpiry = now + this.options.windowMs;
    if (this.counted.size >= limit * this.options.upgradeShare) this.shareReachedAt = now;
    return undefined;
  }

  /**
   * One step up when at least half the limit was used within the last 7 days
   * and quality is not RED (a RED number holds its tier; quality never
   * lowers it). TIER_250 rises only by verification. Returns whether it rose;
   * the new tier's use is measured afresh.
   */
  evaluateUpgrade(quality: Quality): boolean {
    const now = this.clock.now();
    if (this.tierIndex === 0 || this.tierIndex === TIERS.length - 1) return false;
    // Use that stayed at or above the share counts until now, not only when it got there.
    if (this.usage() >= this.limit * this.options.upgradeShare) this.shareReachedAt = now;
    if (quality === "RED") return false;
    if (this.shareReachedAt === 0 || now - this.shareReachedAt >= this.options.upgradeLookbackMs) return false;
    this.raiseTo(this.tierIndex + 1, now);
    return true;
  }

  /** Business verification lifts a new business from TIER_250 to TIER_2K. */
  verified(): void {
    if (this.tierIndex === 0) this.raiseTo(1, this.clock.now());
  }

  private raiseTo(index: number, now: number): void {
    this.tierIndex = index;
    this.shareReachedAt = this.usage() >= this.limit * this.options.upgradeShare ? now : 0;
  }

  private expire(now: number): void {
    const horizon = now - this.options.windowMs;
    this.nextExpiry = Number.POSITIVE_INFINITY;
    for (const [customerId, at] of this.counted) {
      if (at > horizon) {
        this.nextExpiry = at + this.options.windowMs;
        return;
      }
      this.counted.delete(customerId);
    }
  }
}

/**
 * Cloud API §9.3: a number moves to 1,000 messages/s when its business is
 * unlimited, it messaged at least 100,000 unique customers outside the
 * service window in 24 h, and its quality is at least YELLOW.
 */
export const HIGH_THROUGHPUT_UNIQUE_CUSTOMERS = 100_000;

export function throughputFor(tier: TierName, numberUniqueCustomers24h: number, quality: Quality): number {
  return tier === "TIER_UNLIMITED" && numberUniqueCustomers24h >= HIGH_THROUGHPUT_UNIQUE_CUSTOMERS && quality !== "RED"
    ? HIGH_THROUGHPUT_PER_SECOND
    : DEFAULT_THROUGHPUT_PER_SECOND;
}
