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
