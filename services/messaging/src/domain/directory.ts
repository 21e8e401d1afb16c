/** A business number as mirrored from directory events. */
export interface BusinessNumber {
  phoneNumberId: string;
  businessId: string;
  e164: string;
  displayName: string;
  verified: boolean;
  verifiedName: string;
  active: boolean;
  version: number;
}

/**
 * In-memory view of business numbers, so authorization and routing never read
 * the database per message. Fed by the directory consumer and a periodic
 * re-read of the table (another replica's consumer may have applied an event).
 */
export function createDirectoryCache() {
  const byId = new Map<string, BusinessNumber>();
  const byE164 = new Map<string, string>();
  /** Business id → how many of the numbers held belong to it (active or not). */
  const businesses = new Map<string, number>();
  return {
    apply(n: BusinessNumber): void {
      const old = byId.get(n.phoneNumberId);
      if (old && old.version > n.version) return;
      if (old?.businessId !== n.businessId) {
        if (old) {
          const left = (businesses.get(old.businessId) ?? 1) - 1;
          if (left > 0) businesses.set(old.businessId, left);
          else businesses.delete(old.businessId);
        }
        businesses.set(n.businessId, (businesses.get(n.businessId) ?? 0) + 1);
      }
      if (old && old.e164 !== n.e164 && byE164.get(old.e164) === old.phoneNumberId) byE164.delete(old.e164);
      byId.set(n.phoneNumberId, n);
      if (n.active) byE164.set(n.e164, n.phoneNumberId);
      else if (byE164.get(n.e164) === n.phoneNumberId) byE164.delete(n.e164);
    },
    get(phoneNumberId: string): BusinessNumber | undefined {
      const n = byId.get(phoneNumberId);
      return n?.active ? n : undefined;
    },
    byE164(e164: string): BusinessNumber | undefined {
      const id = byE164.get(e164);
      return id ? this.get(id) : undefined;
    },
    /** Does the directory know this business (a number of it, active or not)? */
    hasBusiness(businessId: string): boolean {
      return businesses.has(businessId);
    },
    /** The business a number belongs to, active or not. */
    businessOf(phoneNumberId: string): string | undefined {
      return byId.get(phoneNumberId)?.businessId;
    },
    /** The active numbers of a business. */
    numbersOf(businessId: string): BusinessNumber[] {
      const out: BusinessNumber[] = [];
      for (const n of byId.values()) if (n.active && n.businessId === businessId) out.push(n);
      return out;
    },
    size(): number {
      return byId.size;
    },
  };
}

export type DirectoryCache = ReturnType<typeof createDirectoryCache>;
