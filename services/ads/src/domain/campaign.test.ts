import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { validateNewCampaign, type NewCampaignInput } from "./campaign.js";

const now = new Date("2026-11-21T12:00:00Z");
const valid: NewCampaignInput = {
  businessId: "biz_1",
  name: "  Winter mugs  ",
  objective: "click_to_chat",
  dailyBudget: { amountMinor: "5000", currency: "EUR" },
  flight: { startTime: new Date("2026-12-01T00:00:00Z"), endTime: new Date("2026-12-31T00:00:00Z") },
  bid: { kind: "cpc", amount: { amountMinor: "30", currency: "EUR" } },
  creatives: [{ headline: "Mugs", text: "", imageUrl: "", callToAction: "", landingUrl: "", prefilledMessage: "Hi", templateName: "", templateLanguage: "" }],
};

describe("validateNewCampaign", () => {
  it("when the input is valid, then it is a draft with a trimmed name and the budget in minor units", () => {
    const c = validateNewCampaign(valid, now);
    expect(c.status).toBe("draft");
    expect(c.name).toBe("Winter mugs");
    expect(c.dailyBudget).toEqual({ amountMinor: 5000n, currency: "EUR" });
    expect(c.flight.endAt?.toISOString()).toBe("2026-12-31T00:00:00.000Z");
  });

  it("when the flight has no end, then it runs open-ended; a start in the past is allowed", () => {
    const c = validateNewCampaign({ ...valid, flight: { startTime: new Date("2026-01-01T00:00:00Z"), endTime: undefined } }, now);
    expect(c.flight.endAt).toBeUndefined();
  });

  it("when a field is bad, then the error names that field", () => {
    expect(invalidField(() => validateNewCampaign({ ...valid, businessId: "" }, now))).toBe("business_id");
    expect(invalidField(() => validateNewCampaign({ ...valid, name: "   " }, now))).toBe("name");
    expect(invalidField(() => validateNewCampaign({ ...valid, name: "n".repeat(201) }, now))).toBe("name");
    expect(invalidField(() => validateNewCampaign({ ...valid, objective: undefined }, now))).toBe("objective");
    expect(invalidField(() => validateNewCampaign({ ...valid, dailyBudget: undefined }, now))).toBe("daily_budget");
    expect(invalidField(() => validateNewCampaign({ ...valid, dailyBudget: { amountMinor: "0", currency: "EUR" } }, now))).toBe("daily_budget.amount_minor");
    expect(invalidField(() => validateNewCampaign({ ...valid, dailyBudget: { amountMinor: "-1", currency: "EUR" } }, now))).toBe("daily_budget.amount_minor");
    expect(invalidField(() => validateNewCampaign({ ...valid, dailyBudget: { amountMinor: "1", currency: "EU" } }, now))).toBe("daily_budget.currency");
    expect(invalidField(() => validateNewCampaign({ ...valid, flight: undefined }, now))).toBe("flight");
    expect(invalidField(() => validateNewCampaign({ ...valid, flight: { startTime: undefined, endTime: undefined } }, now))).toBe("flight.start_time");
  });

  it("when the flight ends before it starts or already ended, then flight.end_time is named", () => {
    const start = new Date("2026-12-01T00:00:00Z");
    expect(invalidField(() => validateNewCampaign({ ...valid, flight: { startTime: start, endTime: start } }, now))).toBe("flight.end_time");
    expect(invalidField(() => validateNewCampaign({ ...valid, flight: { startTime: new Date("2026-11-01T00:00:00Z"), endTime: new Date("2026-11-20T00:00:00Z") } }, now))).toBe(
      "flight.end_time",
    );
  });
});

describe("validateNewCampaign: bids, budgets, creatives, targeting", () => {
  it("when a bid is negative, zero, in another currency or over the daily budget, then the bid field is named", () => {
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: "cpc", amount: { amountMinor: "-5", currency: "EUR" } } }, now))).toBe("bid.amount.amount_minor");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: "cpc", amount: { amountMinor: "0", currency: "EUR" } } }, now))).toBe("bid.amount.amount_minor");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: "cpc", amount: { amountMinor: "10", currency: "USD" } } }, now))).toBe("bid.amount.currency");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: "cpc", amount: { amountMinor: "5001", currency: "EUR" } } }, now))).toBe("bid.amount.amount_minor");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: "cpm", amount: { amountMinor: "5001000", currency: "EUR" } } }, now))).toBe("bid.amount.amount_minor");
    expect(validateNewCampaign({ ...valid, bid: { kind: "cpm", amount: { amountMinor: "5001", currency: "EUR" } } }, now).bid.kind).toBe("cpm");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: { kind: undefined, amount: { amountMinor: "10", currency: "EUR" } } }, now))).toBe("bid.kind");
    expect(invalidField(() => validateNewCampaign({ ...valid, bid: undefined }, now))).toBe("bid");
  });

  it("when the lifetime budget is in another currency or under the daily budget, then lifetime_budget is named", () => {
    expect(invalidField(() => validateNewCampaign({ ...valid, lifetimeBudget: { amountMinor: "90000", currency: "USD" } }, now))).toBe("lifetime_budget.currency");
    expect(invalidField(() => validateNewCampaign({ ...valid, lifetimeBudget: { amountMinor: "4999", currency: "EUR" } }, now))).toBe("lifetime_budget.amount_minor");
    expect(validateNewCampaign({ ...valid, lifetimeBudget: { amountMinor: "90000", currency: "EUR" } }, now).lifetimeBudget?.amountMinor).toBe(90000n);
  });

  it("when creatives are missing or malformed for the campaign's type, then the creative's field is named", () => {
    const c = valid.creatives![0]!;
    expect(invalidField(() => validateNewCampaign({ ...valid, creatives: [] }, now))).toBe("creatives");
    expect(invalidField(() => validateNewCampaign({ ...valid, creatives: [{ ...c, headline: " " }] }, now))).toBe("creatives[0].headline");
    expect(invalidField(() => validateNewCampaign({ ...valid, creatives: [c, { ...c, imageUrl: "http://x.test/a.png" }] }, now))).toBe("creatives[1].image_url");
    expect(invalidField(() => validateNewCampaign({ ...valid, objective: "display" }, now))).toBe("creatives[0].landing_url");
    const cpmBid = { kind: "cpm" as const, amount: { amountMinor: "30", currency: "EUR" } };
    expect(invalidField(() => validateNewCampaign({ ...valid, objective: "sponsored_message", bid: cpmBid }, now))).toBe("creatives[0].template_name");
    // Sponsored messages are charged per message sent: a CPC bid is refused.
    expect(invalidField(() => validateNewCampaign({ ...valid, objective: "sponsored_message" }, now))).toBe("bid.kind");
    expect(validateNewCampaign({ ...valid, creatives: [c, c] }, now).creatives.map((x) => x.id)).toEqual(["c1", "c2"]);
  });

  it("when targeting is outside its vocabulary, then the targeting field is named", () => {
    const t = { countries: [], regions: [], languages: [], minAge: 0, maxAge: 0, interests: [], messagedWithinDays: 0, orderedWithinDays: 0, placements: [], keywords: [], followersOnly: false };
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, countries: ["PT", "portugal"] } }, now))).toBe("targeting.countries[1]");
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, interests: ["crypto"] } }, now))).toBe("targeting.interests[0]");
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, minAge: 30, maxAge: 20 } }, now))).toBe("targeting.max_age");
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, minAge: 5 } }, now))).toBe("targeting.min_age");
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, countries: ["PT"], regions: ["BR-SP"] } }, now))).toBe("targeting.regions");
    expect(invalidField(() => validateNewCampaign({ ...valid, targeting: { ...t, messagedWithinDays: -1 } }, now))).toBe("targeting.messaged_within_days");
    expect(invalidField(() => validateNewCampaign({ ...valid, frequencyCap: { perDay: 3, perWeek: 2 } }, now))).toBe("frequency_cap.per_week");
  });
});
