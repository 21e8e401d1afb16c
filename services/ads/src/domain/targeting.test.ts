import { describe, expect, it } from "vitest";
import { compileTargeting, matchesTargeting, type Interactions, type Targeting, type Viewer } from "./targeting.js";

const DAY = 86_400_000;
const now = Date.parse("2026-12-05T12:00:00Z");
const none: Targeting = { countries: [], regions: [], languages: [], minAge: 0, maxAge: 0, interests: [], messagedWithinDays: 0, orderedWithinDays: 0, placements: [], keywords: [], followersOnly: false };
const viewer: Viewer = { customerId: "cust_1", personalized: true, country: "PT", region: "PT-11", language: "pt", age: 30, interests: ["beauty", "travel"], query: "handmade mugs" };
const history: Interactions = { lastMessagedMs: (b) => (b === "biz_a" ? now - 3 * DAY : undefined), lastOrderedMs: (b) => (b === "biz_a" ? now - 20 * DAY : undefined) };
const match = (t: Partial<Targeting>, v: Partial<Viewer> = {}, businessId = "biz_a") => matchesTargeting(compileTargeting({ ...none, ...t }), businessId, { ...viewer, ...v }, history, now);

describe("matchesTargeting: the matrix", () => {
  const cases: [string, Partial<Targeting>, Partial<Viewer>, boolean][] = [
    ["untargeted, anyone", {}, { personalized: false }, true],
    ["country in", { countries: ["PT", "BR"] }, {}, true],
    ["country out", { countries: ["BR"] }, {}, false],
    ["language in", { languages: ["pt"] }, {}, true],
    ["language out", { languages: ["en"] }, {}, false],
    ["keyword in the query", { keywords: ["mugs"] }, {}, true],
    ["keyword not in the query", { keywords: ["vases"] }, {}, false],
    ["region in", { regions: ["PT-11"] }, {}, true],
    ["region out", { regions: ["PT-13"] }, {}, false],
    ["age inside", { minAge: 25, maxAge: 34 }, {}, true],
    ["age at the lower bound", { minAge: 30 }, {}, true],
    ["age at the upper bound", { maxAge: 30 }, {}, true],
    ["age below", { minAge: 31 }, {}, false],
    ["age above", { maxAge: 29 }, {}, false],
    ["age unknown with an age range", { minAge: 18 }, { age: 0 }, false],
    ["interest shared", { interests: ["travel", "pets"] }, {}, true],
    ["no interest shared", { interests: ["pets"] }, {}, false],
    ["messaged within 7 days", { messagedWithinDays: 7 }, {}, true],
    ["messaged, but not within 2 days", { messagedWithinDays: 2 }, {}, false],
    ["ordered within 30 days", { orderedWithinDays: 30 }, {}, true],
    ["ordered, but not within 14 days", { orderedWithinDays: 14 }, {}, false],
    ["all together", { countries: ["PT"], languages: ["pt"], regions: ["PT-11"], minAge: 18, interests: ["beauty"], messagedWithinDays: 7 }, {}, true],
  ];
  for (const [name, t, v, expected] of cases) {
    it(`when ${name}, then ${expected ? "it matches" : "it does not"}`, () => expect(match(t, v)).toBe(expected));
  }

  it("when the viewer has no history with this business, then prior-interaction targeting does not match", () => {
    expect(match({ messagedWithinDays: 30 }, {}, "biz_b")).toBe(false);
  });
});

describe("matchesTargeting: consent", () => {
  it("when the viewer has not turned personalization on, then no personal criterion matches, whatever the request claims; contextual ones still do", () => {
    const off = { personalized: false };
    for (const t of [{ regions: ["PT-11"] }, { minAge: 18 }, { maxAge: 99 }, { interests: ["beauty"] }, { messagedWithinDays: 30 }, { orderedWithinDays: 30 }]) expect(match(t, off)).toBe(false);
    expect(match({ countries: ["PT"], languages: ["pt"], keywords: ["mugs"] }, off)).toBe(true);
  });
});
