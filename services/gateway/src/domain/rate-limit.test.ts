import { describe, expect, it } from "vitest";
import { HourlyLimiter, RateLimiter, usageHeader } from "./rate-limit.js";

const MIN = 60_000;

describe("HourlyLimiter", () => {
  it("when a key reaches its hourly limit, then further calls are refused with the minutes until the oldest ones leave the hour", () => {
    const l = new HourlyLimiter(3);
    const t0 = 1_000 * MIN;
    expect(l.take("a", t0).usage.call_count).toBe(33);
    expect(l.take("a", t0 + 10 * MIN).usage.call_count).toBe(67);
    expect(l.take("a", t0 + 20 * MIN)).toEqual({ allowed: true, usage: { type: "whatsapp_business_management", call_count: 100, total_cputime: 100, total_time: 100, estimated_time_to_regain_access: 0 } });
    const refused = l.take("a", t0 + 30 * MIN);
    expect(refused.allowed).toBe(false);
    // The call at t0 leaves the hour at t0 + 60 min: 30 minutes from now.
    expect(refused.usage.estimated_time_to_regain_access).toBe(30);
    expect(l.take("b", t0 + 30 * MIN).allowed).toBe(true);
    expect(l.take("a", t0 + 60 * MIN).allowed).toBe(true);
    expect(l.take("a", t0 + 60 * MIN).allowed).toBe(false);
  });

  it("when a key was idle for more than an hour, then its window is empty again", () => {
    const l = new HourlyLimiter(1);
    expect(l.take("a", 0).allowed).toBe(true);
    expect(l.take("a", 59 * MIN).allowed).toBe(false);
    expect(l.take("a", 5 * 60 * MIN).allowed).toBe(true);
  });
});

describe("RateLimiter", () => {
  it("when a burst exceeds the bucket, then the excess is refused until tokens come back", () => {
    const l = new RateLimiter(2, 2);
    expect(l.take("n", 0).allowed).toBe(true);
    expect(l.take("n", 0).allowed).toBe(true);
    const refused = l.take("n", 0);
    expect(refused.allowed).toBe(false);
    expect(refused.usage).toMatchObject({ type: "whatsapp_business_messaging", call_count: 100 });
    expect(l.take("n", 500).allowed).toBe(true);
    expect(l.take("other", 0).allowed).toBe(true);
  });
});

describe("usageHeader", () => {
  it("when rendered, then it is Graph's {business id: [usage]} JSON", () => {
    const u = new HourlyLimiter(10).take("k", 0).usage;
    expect(JSON.parse(usageHeader("123", u))).toEqual({ "123": [{ type: "whatsapp_business_management", call_count: 10, total_cputime: 10, total_time: 10, estimated_time_to_regain_access: 0 }] });
  });
});
