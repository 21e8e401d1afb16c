import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { feeFor, feeReturned } from "./payment-service.js";

describe("feeFor", () => {
  it("when the fee is taken, then it is the plan's basis points of the amount, rounded down", () => {
    expect(feeFor(3333n, 150)).toBe(49n);
    expect(feeFor(10_000n, 290)).toBe(290n);
    expect(feeFor(1n, 9999)).toBe(0n);
    expect(feeFor(10_000n, 0)).toBe(0n);
  });
});

describe("feeReturned", () => {
  it("when a payment is refunded in any number of parts, then each returns at most its share and all of them the whole fee", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.integer({ min: 0, max: 10_000 }), fc.array(fc.bigInt({ min: 1n, max: 10n ** 12n }), { minLength: 1, maxLength: 8 }), (captured, bps, weights) => {
        const fee = feeFor(captured, bps);
        const total = weights.reduce((a, b) => a + b, 0n);
        // Split the captured amount into parts proportional to the weights (the last takes the rest).
        const parts = weights.map((w) => (captured * w) / total).filter((p) => p > 0n);
        const sum = parts.reduce((a, b) => a + b, 0n);
        if (sum < captured) parts.push(captured - sum);
        let before = 0n;
        let returned = 0n;
        for (const part of parts) {
          const back = feeReturned(captured, fee, before, part);
          expect(back).toBeGreaterThanOrEqual(0n);
          expect(back).toBeLessThanOrEqual(part);
          expect(back * captured).toBeLessThanOrEqual(fee * part + captured);
          returned += back;
          before += part;
        }
        expect(returned).toBe(fee);
      }),
      { numRuns: 300 },
    );
  });
});
