import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS } from "./clock.js";
import { CATEGORIES, conversationBillable, openedAt, priceMessage, type ConversationWindows, type Pricing, type PricingCategory, type PricingModel } from "./pricing.js";

const T0 = Date.UTC(2026, 0, 10, 9, 30);

const windows = (overrides: Partial<ConversationWindows> = {}): ConversationWindows => ({
  lastInboundAt: 0,
  referralReplyBy: 0,
  freeEntryUntil: 0,
  categoryUntil: [0, 0, 0, 0],
  ...overrides,
});

/** The customer wrote at T0: the service window is open through T0 + 24 h − 1 ms. */
const inbound = windows({ lastInboundAt: T0 });
const lastOpenMs = T0 + DAY_MS - 1;
const firstClosedMs = T0 + DAY_MS;

const regular = (model: PricingModel, category: PricingCategory, billable: boolean): Pricing => ({ model, category, billable, type: "regular" });
const freeService = (model: PricingModel, category: PricingCategory): Pricing => ({ model, category, billable: false, type: "free_customer_service" });
const freeEntry = (model: PricingModel, category: PricingCategory): Pricing => ({ model, category, billable: false, type: "free_entry_point" });

describe("priceMessage under per-message pricing (PMP)", () => {
  it.each([
    // category, inside the service window, outside it
    ["service", freeService("PMP", "service"), freeService("PMP", "service")],
    ["marketing", regular("PMP", "marketing", true), regular("PMP", "marketing", true)],
    ["utility", freeService("PMP", "utility"), regular("PMP", "utility", true)],
    ["authentication", regular("PMP", "authentication", true), regular("PMP", "authentication", true)],
  ] as const)("when a message of category %s goes 1 ms before the service window closes and then as it closes, then it is priced as the table says", (category, inside, outside) => {
    expect(priceMessage("PMP", category, inbound, lastOpenMs)).toEqual(inside);
    expect(priceMessage("PMP", category, inbound, firstClosedMs)).toEqual(outside);
  });

  it("when the customer never wrote, then a utility template is billed and a free-form (service) message is free", () => {
    expect(priceMessage("PMP", "utility", windows(), T0)).toEqual(regular("PMP", "utility", true));
    expect(priceMessage("PMP", "service", windows(), T0)).toEqual(freeService("PMP", "service"));
  });
});

describe("priceMessage under conversation-based pricing (CBP)", () => {
  it.each(CATEGORIES.filter((c) => c !== "service"))(
    "when a message of category %s goes inside or outside the service window, then the message itself is not billed (its conversation is)",
    (category) => {
      expect(priceMessage("CBP", category, inbound, lastOpenMs)).toEqual(regular("CBP", category, false));
      expect(priceMessage("CBP", category, inbound, firstClosedMs)).toEqual(regular("CBP", category, false));
    },
  );

  it("when a service message goes inside or outside the service window, then it is free customer service", () => {
    expect(priceMessage("CBP", "service", inbound, lastOpenMs)).toEqual(freeService("CBP", "service"));
    expect(priceMessage("CBP", "service", inbound, firstClosedMs)).toEqual(freeService("CBP", "service"));
  });
});

describe("priceMessage inside a free entry point", () => {
  const until = T0 + 72 * HOUR_MS;
  // The service window closed long ago: only the free entry point makes these free.
  const entry = windows({ lastInboundAt: T0 - 2 * DAY_MS, freeEntryUntil: until });

  for (const model of ["PMP", "CBP"] as const) {
    it.each(CATEGORIES)(`when a message of category %s goes under ${model} 1 ms before the free entry point ends, then it is free; at its end, it is not`, (category) => {
      expect(priceMessage(model, category, entry, until - 1)).toEqual(freeEntry(model, category));
      expect(priceMessage(model, category, entry, until).type).not.toBe("free_entry_point");
    });
  }

  it("when the free entry point has ended, then a PMP marketing template is billed again", () => {
    expect(priceMessage("PMP", "marketing", entry, until)).toEqual(regular("PMP", "marketing", true));
  });
});

describe("openedAt", () => {
  it("when a category's window ends exactly one conversation window after the commit, then the commit opened it; 1 ms later or earlier, it did not", () => {
    const w = windows({ categoryUntil: [T0 + DAY_MS, T0 + DAY_MS + 1, T0 + DAY_MS - 1, T0 + DAY_MS] });
    expect(openedAt(w, T0)).toEqual({ freeEntry: false, categories: ["service", "authentication"] });
  });

  it("when the free entry point ends exactly 72 h after the commit, then the commit opened it; 1 ms later or earlier, it did not", () => {
    expect(openedAt(windows({ freeEntryUntil: T0 + 72 * HOUR_MS }), T0)).toEqual({ freeEntry: true, categories: [] });
    expect(openedAt(windows({ freeEntryUntil: T0 + 72 * HOUR_MS + 1 }), T0).freeEntry).toBe(false);
    expect(openedAt(windows({ freeEntryUntil: T0 + 72 * HOUR_MS - 1 }), T0).freeEntry).toBe(false);
  });

  it("when nothing is open, then nothing was opened", () => {
    expect(openedAt(windows(), T0)).toEqual({ freeEntry: false, categories: [] });
  });
});

describe("conversationBillable", () => {
  it("when the model is CBP, then marketing, utility and authentication conversations are billed; service and a referral conversion are not", () => {
    expect(conversationBillable("CBP", "marketing")).toBe(true);
    expect(conversationBillable("CBP", "utility")).toBe(true);
    expect(conversationBillable("CBP", "authentication")).toBe(true);
    expect(conversationBillable("CBP", "service")).toBe(false);
    expect(conversationBillable("CBP", "referral_conversion")).toBe(false);
  });

  it("when the model is PMP, then no conversation is billed", () => {
    for (const category of [...CATEGORIES, "referral_conversion"] as const) expect(conversationBillable("PMP", category)).toBe(false);
  });
});
