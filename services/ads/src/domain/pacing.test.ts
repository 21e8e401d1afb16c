import { describe, expect, it } from "vitest";
import { DAY_MS, Lease, dayStartMs, leaseSlice, pacedCeiling, utcDay } from "./pacing.js";

const midnight = Date.parse("2026-12-05T00:00:00Z");

describe("pacing", () => {
  it("when the day goes by, then the ceiling grows evenly from one look-ahead's share to the whole budget", () => {
    const budget = 96_000;
    expect(pacedCeiling(budget, midnight, 15 * 60_000)).toBe(1000);
    expect(pacedCeiling(budget, midnight + DAY_MS / 2, 0)).toBe(48_000);
    expect(pacedCeiling(budget, midnight + DAY_MS - 1, 15 * 60_000)).toBe(budget);
  });

  it("when a slice is asked for, then it is a share of the budget but never less than one unit nor more than the budget", () => {
    expect(leaseSlice(96_000, 100, 96)).toBe(1000);
    expect(leaseSlice(96_000, 5000, 96)).toBe(5000);
    expect(leaseSlice(3000, 5000, 96)).toBe(3000);
  });

  it("when a lease is spent, then it refuses what it no longer holds", () => {
    const l = new Lease("2026-12-05", 250);
    expect(l.canSpend(200)).toBe(true);
    l.spend(200);
    expect(l.canSpend(51)).toBe(false);
    expect(l.canSpend(50)).toBe(true);
  });

  it("days are UTC", () => {
    expect(utcDay(midnight - 1)).toBe("2026-12-04");
    expect(utcDay(midnight)).toBe("2026-12-05");
    expect(dayStartMs(midnight + 5000)).toBe(midnight);
  });
});
