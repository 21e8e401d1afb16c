import { describe, expect, it } from "vitest";
import { AdIndex, newServingState, type ServingAd } from "./ad-index.js";
import { compileTargeting } from "./targeting.js";
import { createImpressionIds, mintAdToken, verifyAdToken } from "./ad-token.js";

const base = { countries: [], regions: [], languages: [], minAge: 0, maxAge: 0, interests: [], messagedWithinDays: 0, orderedWithinDays: 0, placements: [], keywords: [], followersOnly: false };
function ad(id: string, countries: string[], languages: string[], placements: ServingAd["placements"]): ServingAd {
  return {
    campaignId: id,
    businessId: "b",
    objective: "display",
    bidKind: "cpm",
    bidMinor: 100,
    currency: "EUR",
    dailyBudgetMilli: 1e6,
    lifetimeBudgetMilli: undefined,
    targeting: compileTargeting({ ...base, countries, languages }),
    cap: { perDay: 0, perWeek: 0 },
    creatives: [],
    startMs: 0,
    endMs: Infinity,
    placements,
    rotation: 0,
    score: 0,
    state: newServingState(0.01),
  };
}

describe("AdIndex", () => {
  it("when a request names a placement, country and language, then it visits exactly the ads that may fit, each once", () => {
    const index = new AdIndex();
    index.upsert(ad("any", [], [], ["app_feed", "app_banner"]));
    index.upsert(ad("pt", ["PT", "BR"], [], ["app_feed"]));
    index.upsert(ad("pt-en", ["PT"], ["en"], ["app_feed"]));
    index.upsert(ad("br", ["BR"], ["pt"], ["app_feed"]));
    index.upsert(ad("banner-pt", ["PT"], [], ["app_banner"]));
    const seen: string[] = [];
    index.forCandidates("app_feed", "PT", "pt", (a) => seen.push(a.campaignId) > 0);
    expect(seen.sort()).toEqual(["any", "pt"]);
    const anonymous: string[] = [];
    index.forCandidates("app_feed", "", "", (a) => anonymous.push(a.campaignId) > 0);
    expect(anonymous).toEqual(["any"]);
  });

  it("when ads have scores, then candidates come highest score first across buckets, and a visitor can stop early", () => {
    const index = new AdIndex();
    const scored = (id: string, countries: string[], score: number) => ({ ...ad(id, countries, [], ["app_feed"]), score });
    index.upsert(scored("a", [], 5));
    index.upsert(scored("b", ["PT"], 9));
    index.upsert(scored("c", [], 7));
    index.upsert(scored("d", ["PT"], 1));
    const order: string[] = [];
    index.forCandidates("app_feed", "PT", "", (a) => order.push(a.campaignId) > 0);
    expect(order).toEqual(["b", "c", "a", "d"]);
    const firstTwo: string[] = [];
    index.forCandidates("app_feed", "PT", "", (a) => firstTwo.push(a.campaignId) < 2);
    expect(firstTwo).toEqual(["b", "c"]);
  });

  it("when scores move and the index is told, then the walk follows the new order", () => {
    const index = new AdIndex();
    const scored = (id: string, score: number) => ({ ...ad(id, ["PT"], [], ["app_feed"]), score });
    const a = scored("a", 3);
    const b = scored("b", 2);
    const c = scored("c", 1);
    for (const x of [a, b, c]) index.upsert(x);
    const walk = () => {
      const order: string[] = [];
      index.forCandidates("app_feed", "PT", "", (x) => order.push(x.campaignId) > 0);
      return order;
    };
    expect(walk()).toEqual(["a", "b", "c"]);
    c.score = 9;
    a.score = 0;
    index.reorderAds(["a", "c"]);
    expect(walk()).toEqual(["c", "b", "a"]);
  });

  it("when an ad is replaced or removed, then its old buckets forget it", () => {
    const index = new AdIndex();
    index.upsert(ad("x", ["PT"], [], ["app_feed"]));
    index.upsert(ad("x", ["BR"], [], ["app_feed"]));
    const pt: string[] = [];
    index.forCandidates("app_feed", "PT", "", (a) => pt.push(a.campaignId) > 0);
    expect(pt).toEqual([]);
    index.remove("x");
    expect(index.size).toBe(0);
  });
});

describe("AdIndex lists", () => {
  const walk = (index: AdIndex, personalized: boolean, withQuery: boolean) => {
    const out: string[] = [];
    index.start("app_feed", "PT", "pt", personalized, withQuery);
    for (let a = index.next(); a; a = index.next()) out.push(a.campaignId);
    return out.sort();
  };
  it("when a viewer has no personalization consent or the request no query, then personal or keyword ads are not even visited", () => {
    const index = new AdIndex();
    const withTargeting = (id: string, extra: object) => ({ ...ad(id, ["PT"], [], ["app_feed"]), targeting: compileTargeting({ ...base, countries: ["PT"], ...extra }) });
    index.upsert(withTargeting("plain", {}));
    index.upsert(withTargeting("personal", { interests: ["beauty"] }));
    index.upsert(withTargeting("keyword", { keywords: ["mugs"] }));
    index.upsert(withTargeting("personal-keyword", { minAge: 18, keywords: ["mugs"] }));
    expect(walk(index, false, false)).toEqual(["plain"]);
    expect(walk(index, true, false)).toEqual(["personal", "plain"]);
    expect(walk(index, false, true)).toEqual(["keyword", "personal-keyword", "plain"]);
    expect(walk(index, true, true)).toEqual(["keyword", "personal", "personal-keyword", "plain"]);
  });
});

describe("ad tokens", () => {
  const claims = { impressionId: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", campaignId: "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", creativeId: "c1", customerId: "cust", placement: "app_feed" as const, servedAtMs: 1_765_000_000_123, kind: "cpc" as const, price: 30 };
  it("when signed with the secret, then the claims come back; altered, truncated or signed elsewhere, nothing does", () => {
    const token = mintAdToken("s".repeat(32), claims);
    expect(token.length).toBeLessThan(120);
    expect(verifyAdToken("s".repeat(32), token)).toEqual(claims);
    expect(verifyAdToken("s".repeat(32), mintAdToken("s".repeat(32), { ...claims, customerId: "" }))).toEqual({ ...claims, customerId: "" });
    expect(verifyAdToken("t".repeat(32), token)).toBeUndefined();
    const bytes = Buffer.from(token, "base64url");
    for (const at of [0, 1, 17, 33, 34, 40, 46, 48, bytes.length - 1]) {
      const forged = Buffer.from(bytes);
      forged[at] = forged[at]! ^ 1;
      expect(verifyAdToken("s".repeat(32), forged.toString("base64url")), `byte ${at}`).toBeUndefined();
    }
    expect(verifyAdToken("s".repeat(32), bytes.subarray(0, bytes.length - 1).toString("base64url"))).toBeUndefined();
    expect(verifyAdToken("s".repeat(32), "garbage")).toBeUndefined();
    expect(verifyAdToken("s".repeat(32), "")).toBeUndefined();
  });
});

describe("impression ids", () => {
  it("when many are made in one millisecond and the clock steps back, then they stay unique, ascending and UUID-shaped", () => {
    const next = createImpressionIds();
    const ids = [next(1000), ...Array.from({ length: 5000 }, () => next(1000)), next(999), next(2000)];
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(createImpressionIds()(1000).slice(19)).not.toBe(ids[0]!.slice(19));
  });
});
