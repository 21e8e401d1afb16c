import type { DirectoryCache } from "./directory.js";
import type { Quality } from "./policy/quality.js";
import { TIERS } from "./policy/tiers.js";

export interface LimitsStore {
  readLimits(businessId: string, at: number): Promise<{ tier: number; used: number }>;
}

export interface BusinessLimits {
  tier: string;
  /** Unique customers of business-initiated conversations in the rolling 24 h. */
  used: number;
  /** 0 = unlimited. */
  limit: number;
  numbers: { phoneNumberId: string; quality: Quality; throughputPerSecond: number }[];
}

/** GetMessagingLimits: a business's tier and use (from the store, the one place they are counted) and its numbers' quality and throughput. */
export function createLimitsService(ports: {
  store: LimitsStore;
  directory: Pick<DirectoryCache, "numbersOf">;
  policy: { rating(numberId: string): Quality; throughputOf(numberId: string): number };
  now: () => number;
}) {
  return {
    async get(businessId: string): Promise<BusinessLimits> {
      const { tier, used } = await ports.store.readLimits(businessId, ports.now());
      const t = TIERS[tier] ?? TIERS[0];
      return {
        tier: t.name,
        used,
        limit: Number.isFinite(t.limit) ? t.limit : 0,
        numbers: ports.directory.numbersOf(businessId).map((n) => ({ phoneNumberId: n.phoneNumberId, quality: ports.policy.rating(n.phoneNumberId), throughputPerSecond: ports.policy.throughputOf(n.phoneNumberId) })),
      };
    },
  };
}

export type LimitsService = ReturnType<typeof createLimitsService>;
