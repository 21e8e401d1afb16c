import { LRUCache } from "lru-cache";
import { checkMarketing, NO_CONSENT, optedIn, recordOptIn, recordOptOut, type ConsentRecord, type MarketingConsent } from "./policy/consent.js";
import type { Refusal } from "./policy/refusals.js";

/** Reads one customer × business consent from the store (the cache's only I/O). */
export interface ConsentLoader {
  loadMarketing(customerId: string, businessId: string): Promise<MarketingConsent>;
}

/** One marketing consent change as the consent events carry it. */
export interface MarketingChange {
  customerId: string;
  businessId: string;
  optIn: boolean;
  record: ConsentRecord;
}

const keyOf = (customerId: string, businessId: string) => `${customerId}\u0000${businessId}`;

/** The consent as it stood at `now`: a record from after it (another replica's clock ahead) does not count yet. */
function asOf(consent: MarketingConsent, now: number): MarketingConsent {
  const inLate = consent.optIn !== undefined && consent.optIn.at > now;
  const outLate = consent.optOut !== undefined && consent.optOut.at > now;
  if (!inLate && !outLate) return consent;
  return { optIn: inLate ? undefined : consent.optIn, optOut: outLate ? undefined : consent.optOut };
}

/**
 * Marketing consent per customer × business in this replica's memory, for
 * the send path: loaded from the store on first use, then kept fresh by the
 * consent events (every replica applies every change, events/consent.ts).
 * A change merges by time (the later record of a kind wins), so events in
 * any order, twice, or racing a load all end in the stored state: a change
 * that arrives while its entry loads is merged into the loaded value.
 */
export function createConsentCache(loader: ConsentLoader, options: { max?: number } = {}) {
  const cache = new LRUCache<string, MarketingConsent>({ max: options.max ?? 200_000 });
  /** Loads in flight, with the changes heard meanwhile. */
  const loading = new Map<string, { promise: Promise<MarketingConsent>; heard: MarketingChange[] }>();

  function merge(consent: MarketingConsent, change: MarketingChange): MarketingConsent {
    return change.optIn ? recordOptIn(consent, change.record) : recordOptOut(consent, change.record);
  }

  return {
    /** The cached consent, or undefined when not loaded (load() first). */
    get(customerId: string, businessId: string): MarketingConsent | undefined {
      return cache.get(keyOf(customerId, businessId));
    },

    /** The consent, from memory when loaded (no promise then), else from the store once. */
    load(customerId: string, businessId: string): MarketingConsent | Promise<MarketingConsent> {
      const key = keyOf(customerId, businessId);
      const known = cache.get(key);
      if (known) return known;
      const pending = loading.get(key);
      if (pending) return pending.promise;
      const entry = { promise: undefined as unknown as Promise<MarketingConsent>, heard: [] as MarketingChange[] };
      entry.promise = loader.loadMarketing(customerId, businessId).then(
        (stored) => {
          const consent = entry.heard.reduce(merge, stored);
          cache.set(key, consent);
          loading.delete(key);
          return consent;
        },
        (err: unknown) => {
          loading.delete(key);
          throw err;
        },
      );
      loading.set(key, entry);
      return entry.promise;
    },

    /** A change from a consent event (or this replica's own commit); entries not loaded are left to their load. */
    apply(change: MarketingChange): void {
      const key = keyOf(change.customerId, change.businessId);
      const pending = loading.get(key);
      if (pending) pending.heard.push(change);
      const known = cache.get(key);
      if (known) cache.set(key, merge(known, change));
    },

    /**
     * May a MARKETING template go to this customer from this business now?
     * Synchronous, from memory: an entry not loaded yet is not allowed
     * (the send path loads it first, as it does a data key).
     */
    marketingAllowed(customerId: string, businessId: string, now: number): boolean {
      const consent = cache.get(keyOf(customerId, businessId));
      return consent !== undefined && optedIn(asOf(consent, now));
    },

    /** The MARKETING rule's refusal (consent.ts), from memory; an entry not loaded counts as no consent. */
    marketingRefusal(customerId: string, businessId: string, now: number): Refusal | undefined {
      return checkMarketing(asOf(cache.get(keyOf(customerId, businessId)) ?? NO_CONSENT, now), true);
    },

    /** Drops every entry of an erased customer (its consent rows are gone). O(entries); erasures are rare. */
    evictCustomer(customerId: string): void {
      const prefix = keyOf(customerId, "");
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
    },

    /** Entries held (tests, metrics). */
    size(): number {
      return cache.size;
    },
  };
}

export type ConsentCache = ReturnType<typeof createConsentCache>;
