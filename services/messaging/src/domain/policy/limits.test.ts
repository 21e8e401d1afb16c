import { describe, expect, it } from "vitest";
import { manualClock, MINUTE_MS, SECOND_MS } from "./clock.js";
import { bucketConfig, charge, PairRateLimiter, take, ThroughputLimiter } from "./limits.js";

const T0 = Date.UTC(2026, 0, 10, 12);

describe("the throughput token bucket", () => {
  it("when 80 messages go at once, then the 81st is refused with 130429 until exactly 12.5 ms later", () => {
    const clock = manualClock(T0);
    const limiter = new ThroughputLimiter(clock);
    for (let i = 0; i < 80; i++) expect(limiter.check("n1")).toBeUndefined();
    const refusal = limiter.check("n1");
    expect(refusal?.cloudApiCode).toBe(130429);
    expect(refusal?.reason).toBe("THROUGHPUT_LIMIT");
    expect(refusal?.metadata.retry_after_ms).toBe("13");
    clock.advance(12.4);
    expect(limiter.check("n1")?.cloudApiCode).toBe(130429);
    clock.set(T0 + 12.5);
    expect(limiter.check("n1")).toBeUndefined();
    expect(limiter.check("n1")?.cloudApiCode).toBe(130429);
    clock.set(T0 + 25);
    expect(limiter.check("n1")).toBeUndefined();
  });

  it("when a number was idle, then its bucket holds no more than its burst", () => {
    const clock = manualClock(T0);
    const limiter = new ThroughputLimiter(clock);
    limiter.check("n1");
    clock.advance(60 * SECOND_MS);
    for (let i = 0; i < 80; i++) expect(limiter.check("n1")).toBeUndefined();
    expect(limiter.check("n1")).toBeDefined();
  });

  it("when one number is used up, then another number still sends", () => {
    const limiter = new ThroughputLimiter(manualClock(T0));
    for (let i = 0; i < 80; i++) limiter.check("n1");
    expect(limiter.check("n1")).toBeDefined();
    expect(limiter.check("n2")).toBeUndefined();
  });

  it("when inbound messages use the number's throughput, then fewer outbound go through; inbound is never refused", () => {
    const limiter = new ThroughputLimiter(manualClock(T0));
    for (let i = 0; i < 30; i++) limiter.charge("n1");
    let sent = 0;
    while (limiter.check("n1") === undefined) sent++;
    expect(sent).toBe(50);
  });

  it("when a number is upgraded to 1,000/s, then a second holds 1,000 messages and a token comes back each ms", () => {
    const clock = manualClock(T0);
    const limiter = new ThroughputLimiter(clock);
    limiter.setRate("n1", 1_000);
    expect(limiter.rateOf("n1")).toBe(1_000);
    expect(limiter.rateOf("n2")).toBe(80);
    for (let i = 0; i < 1_000; i++) expect(limiter.check("n1")).toBeUndefined();
    expect(limiter.check("n1")).toBeDefined();
    clock.advance(1);
    expect(limiter.check("n1")).toBeUndefined();
  });

  it("when the bucket is used directly, then a refused take changes nothing and charge runs ahead of now", () => {
    const config = bucketConfig(2, 1);
    const state = { tat: 0 };
    expect(take(state, config, 1_000)).toBe(0);
    expect(take(state, config, 1_000)).toBe(500);
    expect(state.tat).toBe(1_500);
    charge(state, config, 1_000);
    expect(take(state, config, 1_999)).toBe(1);
    expect(take(state, config, 2_000)).toBe(0);
    expect(() => bucketConfig(0)).toThrow();
  });
});

describe("the pair rate limit", () => {
  it("when a business sends one message every 6 s to a customer, then every one goes", () => {
    const clock = manualClock(T0);
    const limiter = new PairRateLimiter(clock);
    for (let i = 0; i < 20; i++) {
      expect(limiter.check("n1", "c1")).toBeUndefined();
      clock.advance(6 * SECOND_MS);
    }
  });

  it("when a burst of 45 goes within 6 s, then the 46th is refused with 131056", () => {
    const clock = manualClock(T0);
    const limiter = new PairRateLimiter(clock);
    for (let i = 0; i < 45; i++) {
      expect(limiter.check("n1", "c1")).toBeUndefined();
      clock.advance(100);
    }
    const refusal = limiter.check("n1", "c1");
    expect(refusal?.cloudApiCode).toBe(131056);
    expect(refusal?.reason).toBe("PAIR_RATE_LIMIT");
  });

  it("when a burst of 20 has gone, then the pair waits 2 minutes from the burst's start, and sends again at that edge", () => {
    const clock = manualClock(T0);
    const limiter = new PairRateLimiter(clock);
    for (let i = 0; i < 20; i++) expect(limiter.check("n1", "c1")).toBeUndefined();
    clock.set(T0 + 6 * SECOND_MS);
    const refusal = limiter.check("n1", "c1");
    expect(refusal?.metadata.retry_after_ms).toBe(String(2 * MINUTE_MS - 6 * SECOND_MS));
    clock.set(T0 + 2 * MINUTE_MS - 1);
    expect(limiter.check("n1", "c1")?.cloudApiCode).toBe(131056);
    clock.set(T0 + 2 * MINUTE_MS);
    expect(limiter.check("n1", "c1")).toBeUndefined();
  });

  it("when one pair is over its rate, then the same customer from another number and another customer still receive", () => {
    const limiter = new PairRateLimiter(manualClock(T0));
    for (let i = 0; i < 45; i++) limiter.check("n1", "c1");
    expect(limiter.check("n1", "c1")).toBeDefined();
    expect(limiter.check("n2", "c1")).toBeUndefined();
    expect(limiter.check("n1", "c2")).toBeUndefined();
  });

  it("when pairs have paid back what they borrowed, then sweep drops them and they behave as before", () => {
    const clock = manualClock(T0);
    const limiter = new PairRateLimiter(clock);
    limiter.check("n1", "c1");
    for (let i = 0; i < 10; i++) limiter.check("n1", "c2");
    clock.advance(6 * SECOND_MS);
    expect(limiter.sweep()).toBe(1);
    expect(limiter.check("n1", "c1")).toBeUndefined();
    clock.advance(54 * SECOND_MS);
    expect(limiter.sweep()).toBe(0);
  });
});
