import { describe, expect, it } from "vitest";
import { InvalidInput, NotFound, OverLimit, PolicyRefused } from "@kontor/service-kit/errors";
import { outcomeOf, scheduleOf } from "./broadcast-service.js";

const now = new Date(Date.UTC(2026, 11, 5, 12));

describe("a recipient's outcome from a send's failure", () => {
  it("when a limit refuses with retry_after_ms, then the recipient waits exactly that long", () => {
    const err = new OverLimit("THROUGHPUT_LIMIT", "busy", 130429);
    err.metadata.retry_after_ms = "750";
    expect(outcomeOf(err, 0, now)).toEqual({ kind: "retry", at: new Date(now.getTime() + 750), code: 130429, reason: "THROUGHPUT_LIMIT" });
  });

  it("when a limit gives no hint, then the wait doubles from 1 s with the attempts, up to a minute", () => {
    const err = new OverLimit("PAIR_RATE_LIMIT", "later", 131056);
    const waits = [0, 1, 2, 6, 9].map((attempts) => (outcomeOf(err, attempts, now) as { at: Date }).at.getTime() - now.getTime());
    expect(waits).toEqual([1_000, 2_000, 4_000, 60_000, 60_000]);
  });

  it("when the policy or the input refuses for good, then the recipient fails with the Cloud API code", () => {
    expect(outcomeOf(new PolicyRefused("MARKETING_OPTED_OUT", "stop", 131050), 0, now)).toEqual({ kind: "failed", code: 131050, reason: "MARKETING_OPTED_OUT" });
    expect(outcomeOf(new NotFound("recipient", "RECIPIENT_NOT_FOUND", 131026), 0, now)).toMatchObject({ kind: "failed", code: 131026 });
    expect(outcomeOf(new InvalidInput("content.template.components", "count", "TEMPLATE_PARAM_COUNT_MISMATCH", 132000), 0, now)).toMatchObject({ kind: "failed", code: 132000 });
  });

  it("when the failure is not the kit's (the store's connection lost), then it is retried", () => {
    expect(outcomeOf(new Error("socket hang up"), 0, now)).toMatchObject({ kind: "retry", reason: "INTERNAL" });
  });
});

describe("a broadcast's requested send time", () => {
  it("when it is unset or past, then the broadcast goes at once; within 30 days, then it waits; beyond, or no time at all, then INVALID_ARGUMENT naming send_at", () => {
    expect(scheduleOf(undefined, now)).toBeUndefined();
    expect(scheduleOf(new Date(now.getTime() - 1), now)).toBeUndefined();
    expect(scheduleOf(now, now)).toBeUndefined();
    const later = new Date(now.getTime() + 30 * 86_400_000);
    expect(scheduleOf(later, now)).toBe(later);
    for (const bad of [new Date(now.getTime() + 30 * 86_400_000 + 1), new Date(Number.NaN)]) {
      const err = (() => {
        try {
          scheduleOf(bad, now);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidInput);
      expect((err as InvalidInput).field).toBe("send_at");
    }
  });
});
