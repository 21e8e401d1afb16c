import { describe, expect, it } from "vitest";
import { createConsentCache, type MarketingChange } from "./consent-cache.js";
import { NO_CONSENT, type MarketingConsent } from "./policy/consent.js";
import { REASONS } from "./policy/refusals.js";

const optIn = (at: number): MarketingChange => ({ customerId: "c1", businessId: "b1", optIn: true, record: { at, source: "rpc", proof: "form" } });
const optOut = (at: number): MarketingChange => ({ customerId: "c1", businessId: "b1", optIn: false, record: { at, source: "keyword", proof: "STOP" } });

function loaderOf(stored: MarketingConsent) {
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return {
    calls,
    release,
    loader: {
      async loadMarketing(customerId: string, businessId: string) {
        calls.push(`${customerId}/${businessId}`);
        await gate;
        return stored;
      },
    },
  };
}

describe("the marketing consent cache", () => {
  it("when an entry is not loaded, then marketing is not allowed and load reads the store once for concurrent callers", async () => {
    const l = loaderOf({ optIn: { at: 10, source: "rpc", proof: "form" }, optOut: undefined });
    const cache = createConsentCache(l.loader);
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(false);
    const a = cache.load("c1", "b1");
    const b = cache.load("c1", "b1");
    l.release();
    await Promise.all([a, b]);
    expect(l.calls).toEqual(["c1/b1"]);
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(true);
    // Loaded: no promise, no read.
    expect(cache.load("c1", "b1")).not.toBeInstanceOf(Promise);
    expect(l.calls).toHaveLength(1);
  });

  it("when an opt-out arrives after the opt-in, then marketing is refused as opted out; a later opt-in allows it again", async () => {
    const l = loaderOf(NO_CONSENT);
    const cache = createConsentCache(l.loader);
    l.release();
    await cache.load("c1", "b1");
    expect(cache.marketingRefusal("c1", "b1", 100)?.reason).toBe(REASONS.marketingNotOptedIn);
    cache.apply(optIn(10));
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(true);
    expect(cache.marketingRefusal("c1", "b1", 100)).toBeUndefined();
    cache.apply(optOut(20));
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(false);
    expect(cache.marketingRefusal("c1", "b1", 100)?.reason).toBe(REASONS.marketingOptedOut);
    cache.apply(optIn(30));
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(true);
  });

  it("when events come late, twice or out of order, then the later record of each kind wins", async () => {
    const l = loaderOf(NO_CONSENT);
    const cache = createConsentCache(l.loader);
    l.release();
    await cache.load("c1", "b1");
    cache.apply(optOut(20));
    cache.apply(optIn(10)); // older than the opt-out: still opted out
    cache.apply(optIn(10));
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(false);
    expect(cache.get("c1", "b1")?.optOut?.at).toBe(20);
  });

  it("when a change arrives while its entry loads a stale row, then the loaded entry includes it", async () => {
    const l = loaderOf({ optIn: { at: 10, source: "rpc", proof: "form" }, optOut: undefined });
    const cache = createConsentCache(l.loader);
    const loading = cache.load("c1", "b1");
    cache.apply(optOut(20)); // committed after the row was read
    l.release();
    await loading;
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(false);
  });

  it("when a record is from after now (another replica's clock ahead), then it does not count yet", async () => {
    const l = loaderOf({ optIn: { at: 200, source: "rpc", proof: "form" }, optOut: undefined });
    const cache = createConsentCache(l.loader);
    l.release();
    await cache.load("c1", "b1");
    expect(cache.marketingAllowed("c1", "b1", 199)).toBe(false);
    expect(cache.marketingAllowed("c1", "b1", 200)).toBe(true);
  });

  it("when a change is for an entry not loaded, then it is not cached (its load reads the store)", () => {
    const cache = createConsentCache(loaderOf(NO_CONSENT).loader);
    cache.apply(optIn(10));
    expect(cache.size()).toBe(0);
    expect(cache.marketingAllowed("c1", "b1", 100)).toBe(false);
  });

  it("when a customer is erased, then every entry of that customer is dropped and the others stay", async () => {
    const loader = { loadMarketing: async () => ({ optIn: { at: 10, source: "rpc" as const, proof: "form" }, optOut: undefined }) };
    const cache = createConsentCache(loader);
    await cache.load("c1", "b1");
    await cache.load("c1", "b2");
    await cache.load("c10", "b1");
    cache.evictCustomer("c1");
    expect([cache.get("c1", "b1"), cache.get("c1", "b2")]).toEqual([undefined, undefined]);
    expect(cache.get("c10", "b1")).toBeDefined();
    expect(cache.size()).toBe(1);
  });
});
