import { describe, expect, it } from "vitest";
import { KontorError } from "@kontor/service-kit/errors";
import { checkTransition, ORDER_STATES, priceLines, TRANSITIONS, type OrderState } from "./order.js";

const refusalOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as KontorError).reason;
  }
};

describe("the order state machine", () => {
  it("when every pair of states is tried by the actor that may set the target, then exactly the listed moves pass", () => {
    const allowed: string[] = [];
    for (const from of ORDER_STATES)
      for (const to of ORDER_STATES) {
        const actor = to === "PAID" || to === "REFUNDED" ? "payments" : "business";
        if (refusalOf(() => checkTransition({ state: from, paidAt: new Date() }, to, actor)) === undefined) allowed.push(`${from}>${to}`);
      }
    expect(allowed.sort()).toEqual(
      (Object.entries(TRANSITIONS) as [OrderState, readonly OrderState[]][]).flatMap(([from, tos]) => tos.map((to) => `${from}>${to}`)).sort(),
    );
    expect(allowed).toContain("PENDING_PAYMENT>PAID");
    expect(allowed).not.toContain("PENDING_PAYMENT>SHIPPED");
    expect(allowed).not.toContain("REFUNDED>CANCELLED");
  });

  it("when a customer cancels a paid order or an unpaid cancelled order is refunded, then it is refused", () => {
    expect(refusalOf(() => checkTransition({ state: "PAID", paidAt: new Date() }, "CANCELLED", "customer"))).toBe("ILLEGAL_TRANSITION");
    expect(refusalOf(() => checkTransition({ state: "PENDING_PAYMENT", paidAt: null }, "CANCELLED", "customer"))).toBeUndefined();
    expect(refusalOf(() => checkTransition({ state: "CANCELLED", paidAt: null }, "REFUNDED", "payments"))).toBe("ILLEGAL_TRANSITION");
    expect(refusalOf(() => checkTransition({ state: "PENDING_PAYMENT", paidAt: null }, "PAID", "business"))).toBe("INVALID_FIELD");
  });
});

describe("priceLines", () => {
  it("when prices are near 2^53, then totals are exact bigints; past int64 they are refused", () => {
    const p = 2n ** 53n + 1n;
    expect(priceLines([{ productId: "a", retailerId: "A", name: "A", quantity: 3, unitPriceMinor: p }]).totalMinor).toBe(27021597764222979n);
    expect(refusalOf(() => priceLines([{ productId: "a", retailerId: "A", name: "A", quantity: 2, unitPriceMinor: 2n ** 62n }]))).toBe("TOTAL_TOO_LARGE");
  });
});
