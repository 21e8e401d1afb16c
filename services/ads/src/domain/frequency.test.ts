import { describe, expect, it } from "vitest";
import { FrequencyLedger } from "./frequency.js";

const H = 3600_000;
const t0 = Date.parse("2026-12-05T08:00:00Z");

describe("FrequencyLedger", () => {
  it("when a campaign has a cap of 2 per day, then the third impression waits exactly 24 hours after the first", () => {
    const f = new FrequencyLedger();
    const cap = { perDay: 2, perWeek: 0 };
    f.record("c1", "k", "app_feed", t0);
    expect(f.allows("c1", "k", cap, t0 + H)).toBe(true);
    f.record("c1", "k", "app_feed", t0 + H);
    expect(f.allows("c1", "k", cap, t0 + 24 * H - 1)).toBe(false);
    expect(f.allows("c1", "k", cap, t0 + 24 * H)).toBe(true);
    expect(f.allows("c2", "k", cap, t0 + H)).toBe(true);
  });

  it("when a campaign has a weekly cap, then it holds across days until the oldest impression is 7 days old", () => {
    const f = new FrequencyLedger();
    const cap = { perDay: 0, perWeek: 3 };
    for (let d = 0; d < 3; d++) f.record("c1", "k", "app_feed", t0 + d * 24 * H);
    expect(f.allows("c1", "k", cap, t0 + 6 * 24 * H)).toBe(false);
    expect(f.allows("c1", "k", cap, t0 + 7 * 24 * H)).toBe(true);
  });

  it("when the placement has a global cap, then room shrinks with every campaign's impressions there, and other placements are apart", () => {
    const f = new FrequencyLedger();
    f.record("c1", "a", "app_feed", t0);
    f.record("c1", "b", "app_feed", t0);
    expect(f.placementRoom("c1", "app_feed", 3, t0)).toBe(1);
    expect(f.placementRoom("c1", "app_banner", 3, t0)).toBe(3);
    expect(f.placementRoom("c1", "app_feed", 0, t0)).toBe(Number.POSITIVE_INFINITY);
  });

  it("when a week passes, then a sweep forgets the customer", () => {
    const f = new FrequencyLedger();
    f.record("c1", "a", "app_feed", t0);
    f.sweep(t0 + 8 * 24 * H);
    expect(f.allows("c1", "a", { perDay: 1, perWeek: 1 }, t0 + 8 * 24 * H)).toBe(true);
    expect(f.placementRoom("c1", "app_feed", 1, t0 + 8 * 24 * H)).toBe(1);
  });

  it("when a sweep goes in chunks, then it ends only after every customer, and a customer seen meanwhile keeps its count", () => {
    const f = new FrequencyLedger();
    for (let i = 0; i < 10; i++) f.record(`c${i}`, "a", "app_feed", t0);
    const later = t0 + 8 * 24 * H;
    expect(f.sweepSome(later, 4)).toBe(false);
    f.record("fresh", "a", "app_feed", later);
    expect(f.sweepSome(later, 4)).toBe(false);
    // 10 old customers and the fresh one: the third chunk reaches the end.
    expect(f.sweepSome(later, 4)).toBe(true);
    for (let i = 0; i < 10; i++) expect(f.of(`c${i}`)).toBeUndefined();
    expect(f.allows("fresh", "a", { perDay: 1, perWeek: 0 }, later)).toBe(false);
  });
});
