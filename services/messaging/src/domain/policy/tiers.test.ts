import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, manualClock } from "./clock.js";
import { MessagingLimit, throughputFor, TIERS } from "./tiers.js";

const T0 = Date.UTC(2026, 0, 10, 12);

function fill(limit: MessagingLimit, from: number, count: number): void {
  for (let i = from; i < from + count; i++) expect(limit.check(`c${i}`)).toBeUndefined();
}

describe("the messaging limit", () => {
  it("when a customer is messaged again within 24 h, then they count once; at 24 h after they were counted, they count anew", () => {
    const clock = manualClock(T0);
    const limit = new MessagingLimit(clock);
    limit.check("c1");
    clock.set(T0 + 12 * HOUR_MS);
    limit.check("c2");
    limit.check("c1");
    clock.set(T0 + DAY_MS - 1);
    expect(limit.check("c1")).toBeUndefined();
    expect(limit.usage()).toBe(2);
    clock.set(T0 + DAY_MS);
    expect(limit.usage()).toBe(1);
    limit.check("c1");
    expect(limit.usage()).toBe(2);
    clock.set(T0 + 36 * HOUR_MS);
    expect(limit.usage()).toBe(1);
    clock.set(T0 + 2 * DAY_MS);
    expect(limit.usage()).toBe(0);
  });

  it("when 250 customers were counted, then a 251st is refused with 131048, the counted ones still receive, and after 24 h there is room again", () => {
    const clock = manualClock(T0);
    const limit = new MessagingLimit(clock);
    fill(limit, 0, 250);
    const refusal = limit.check("c250");
    expect(refusal?.cloudApiCode).toBe(131048);
    expect(refusal?.reason).toBe("MESSAGING_LIMIT_REACHED");
    expect(refusal?.metadata.tier).toBe("TIER_250");
    expect(limit.check("c0")).toBeUndefined();
    expect(limit.usage()).toBe(250);
    clock.advance(DAY_MS);
    expect(limit.check("c250")).toBeUndefined();
    expect(limit.usage()).toBe(1);
  });

  it("when a TIER_250 business used half its limit, then it does not rise on its own; verification lifts it to TIER_2K", () => {
    const limit = new MessagingLimit(manualClock(T0));
    fill(limit, 0, 200);
    expect(limit.evaluateUpgrade("GREEN")).toBe(false);
    limit.verified();
    expect(limit.tier).toBe("TIER_2K");
    expect(limit.limit).toBe(2_000);
    limit.verified();
    expect(limit.tier).toBe("TIER_2K");
  });

  it("when 999 of 2,000 are used, then no upgrade; at 1,000 with good quality it rises one step", () => {
    const limit = new MessagingLimit(manualClock(T0), "TIER_2K");
    fill(limit, 0, 999);
    expect(limit.evaluateUpgrade("GREEN")).toBe(false);
    fill(limit, 999, 1);
    expect(limit.evaluateUpgrade("YELLOW")).toBe(true);
    expect(limit.tier).toBe("TIER_10K");
    expect(limit.evaluateUpgrade("GREEN")).toBe(false);
  });

  it("when the number is RED, then the upgrade is held; once quality recovers within 7 days it rises", () => {
    const clock = manualClock(T0);
    const limit = new MessagingLimit(clock, "TIER_2K");
    fill(limit, 0, 1_000);
    expect(limit.evaluateUpgrade("RED")).toBe(false);
    expect(limit.tier).toBe("TIER_2K");
    clock.set(T0 + 7 * DAY_MS - 1);
    expect(limit.evaluateUpgrade("GREEN")).toBe(true);
    expect(limit.tier).toBe("TIER_10K");
  });

  it("when half the limit was last used 7 days ago, then it no longer earns an upgrade", () => {
    const clock = manualClock(T0);
    const limit = new MessagingLimit(clock, "TIER_2K");
    fill(limit, 0, 1_000);
    clock.set(T0 + 7 * DAY_MS);
    expect(limit.evaluateUpgrade("GREEN")).toBe(false);
    expect(limit.tier).toBe("TIER_2K");
  });

  it("when use stays above half, then it earns the upgrade from the last moment it was there, not only when it got there", () => {
    const clock = manualClock(T0);
    const limit = new MessagingLimit(clock, "TIER_2K");
    fill(limit, 0, 1_000);
    clock.set(T0 + DAY_MS - 1);
    expect(limit.evaluateUpgrade("RED")).toBe(false);
    clock.set(T0 + 8 * DAY_MS - 2);
    expect(limit.evaluateUpgrade("GREEN")).toBe(true);
  });

  it("when each tier is half used in turn, then it goes 2K → 10K → 100K → unlimited, and unlimited refuses nobody", () => {
    const limit = new MessagingLimit(manualClock(T0), "TIER_2K");
    let next = 0;
    for (const expected of ["TIER_10K", "TIER_100K", "TIER_UNLIMITED"]) {
      const needed = Math.ceil(limit.limit / 2) - limit.usage();
      fill(limit, next, needed);
      next += needed;
      expect(limit.evaluateUpgrade("GREEN")).toBe(true);
      expect(limit.tier).toBe(expected);
    }
    expect(limit.evaluateUpgrade("GREEN")).toBe(false);
    fill(limit, next, 10);
    expect(TIERS.map((t) => t.limit)).toEqual([250, 2_000, 10_000, 100_000, Number.POSITIVE_INFINITY]);
  });
});

describe("the throughput upgrade", () => {
  it("when a number of an unlimited business reached 100,000 customers and is not RED, then it gets 1,000/s, else 80/s", () => {
    expect(throughputFor("TIER_UNLIMITED", 100_000, "YELLOW")).toBe(1_000);
    expect(throughputFor("TIER_UNLIMITED", 99_999, "GREEN")).toBe(80);
    expect(throughputFor("TIER_UNLIMITED", 100_000, "RED")).toBe(80);
    expect(throughputFor("TIER_100K", 100_000, "GREEN")).toBe(80);
  });
});
