import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS } from "./clock.js";
import {
  checkTemplateQuality,
  NO_STRIKES,
  rate,
  RollingSignals,
  strike,
  templatesToPause,
  templateStatus,
  type SignalTotals,
} from "./quality.js";

const T0 = Date.UTC(2026, 0, 10, 12);
const totals = (sent: number, read: number, blocked = 0, reported = 0): SignalTotals => ({ sent, read, blocked, reported });

describe("the quality rating", () => {
  it("when blocks and reports rise, then a number goes GREEN → YELLOW (0.5 %) → RED (2 %), a report weighing two blocks", () => {
    expect(rate(totals(1_000, 800, 4))).toBe("GREEN");
    expect(rate(totals(1_000, 800, 5))).toBe("YELLOW");
    expect(rate(totals(1_000, 800, 19))).toBe("YELLOW");
    expect(rate(totals(1_000, 800, 18, 1))).toBe("RED");
    expect(rate(totals(1_000, 800, 0, 10))).toBe("RED");
  });

  it("when few read what the number sends, then it is YELLOW, never RED on that alone", () => {
    expect(rate(totals(1_000, 250))).toBe("GREEN");
    expect(rate(totals(1_000, 249))).toBe("YELLOW");
    expect(rate(totals(1_000, 0))).toBe("YELLOW");
  });

  it("when fewer than 100 messages were sent, then there is too little signal and the number stays GREEN", () => {
    expect(rate(totals(99, 0, 50))).toBe("GREEN");
    expect(rate(totals(100, 100, 2))).toBe("RED");
  });

  it("when blocks drive a number RED, then it stays RED for the 7 days and recovers once they roll off", () => {
    const signals = new RollingSignals();
    signals.add("n1", "sent", T0, 1_000);
    signals.add("n1", "read", T0, 900);
    signals.add("n1", "blocked", T0 + HOUR_MS, 30);
    expect(signals.rating("n1", T0 + HOUR_MS)).toBe("RED");
    // Fresh good traffic dilutes but does not erase the blocks.
    signals.add("n1", "sent", T0 + 3 * DAY_MS, 1_000);
    signals.add("n1", "read", T0 + 3 * DAY_MS, 900);
    expect(signals.rating("n1", T0 + 3 * DAY_MS)).toBe("YELLOW");
    // The first day's sends leave at 7 days (hour slots), the blocks an hour later.
    expect(signals.totals("n1", T0 + 7 * DAY_MS - 1).sent).toBe(2_000);
    expect(signals.totals("n1", T0 + 7 * DAY_MS).sent).toBe(1_000);
    expect(signals.rating("n1", T0 + 7 * DAY_MS)).toBe("RED");
    expect(signals.rating("n1", T0 + 7 * DAY_MS + HOUR_MS)).toBe("GREEN");
  });

  it("when a slot is reused a week later, then its old counts are cleared; a signal older than the window is ignored", () => {
    const signals = new RollingSignals();
    signals.add("n1", "blocked", T0, 5);
    signals.add("n1", "blocked", T0 + 7 * DAY_MS, 1);
    expect(signals.totals("n1", T0 + 7 * DAY_MS).blocked).toBe(1);
    signals.add("n1", "blocked", T0, 5);
    expect(signals.totals("n1", T0 + 7 * DAY_MS).blocked).toBe(1);
    expect(signals.totals("nobody", T0)).toEqual(totals(0, 0));
  });

  it("when a key has nothing left in its window, then sweep drops it", () => {
    const signals = new RollingSignals();
    signals.add("n1", "sent", T0);
    signals.add("n2", "sent", T0 + 6 * DAY_MS);
    signals.sweep(T0 + 7 * DAY_MS);
    expect(signals.totals("n2", T0 + 7 * DAY_MS).sent).toBe(1);
    signals.add("n1", "sent", T0 + 7 * DAY_MS);
    expect(signals.totals("n1", T0 + 7 * DAY_MS).sent).toBe(1);
  });
});

describe("template pauses", () => {
  it("when a template gets its first strike, then it is PAUSED for 3 h (132015) and sendable again at that edge", () => {
    const s = strike(NO_STRIKES, T0);
    expect(templateStatus(s, T0)).toBe("PAUSED");
    const refusal = checkTemplateQuality(s, T0 + 3 * HOUR_MS - 1);
    expect(refusal?.cloudApiCode).toBe(132015);
    expect(refusal?.reason).toBe("TEMPLATE_PAUSED");
    expect(checkTemplateQuality(s, T0 + 3 * HOUR_MS)).toBeUndefined();
    expect(templateStatus(s, T0 + 3 * HOUR_MS)).toBe("APPROVED");
  });

  it("when it is struck while paused, then nothing changes; the second strike pauses 6 h, the third disables it (132016) for good", () => {
    let s = strike(NO_STRIKES, T0);
    expect(strike(s, T0 + HOUR_MS)).toBe(s);
    s = strike(s, T0 + 3 * HOUR_MS);
    expect(s.strikes).toBe(2);
    expect(templateStatus(s, T0 + 9 * HOUR_MS - 1)).toBe("PAUSED");
    expect(templateStatus(s, T0 + 9 * HOUR_MS)).toBe("APPROVED");
    s = strike(s, T0 + 9 * HOUR_MS);
    expect(templateStatus(s, T0 + 100 * DAY_MS)).toBe("DISABLED");
    expect(checkTemplateQuality(s, T0 + 100 * DAY_MS)?.cloudApiCode).toBe(132016);
    expect(strike(s, T0 + 100 * DAY_MS)).toBe(s);
  });

  it("when a number is RED, then its RED marketing templates are paused; if none is RED, the single worst one", () => {
    const bad = { templateId: "promo", strikes: NO_STRIKES, totals: totals(500, 300, 20) };
    const worse = { templateId: "flash", strikes: NO_STRIKES, totals: totals(500, 300, 40) };
    const fine = { templateId: "news", strikes: NO_STRIKES, totals: totals(500, 400, 1) };
    const mild = { templateId: "tips", strikes: NO_STRIKES, totals: totals(500, 400, 2) };
    expect(templatesToPause("RED", [bad, fine, worse], T0)).toEqual(["promo", "flash"]);
    expect(templatesToPause("RED", [fine, mild], T0)).toEqual(["tips"]);
    expect(templatesToPause("RED", [{ ...fine, totals: totals(500, 400) }], T0)).toEqual([]);
    expect(templatesToPause("YELLOW", [bad, worse], T0)).toEqual([]);
  });

  it("when a RED template is already paused or disabled, then it is not picked again", () => {
    const paused = { templateId: "promo", strikes: strike(NO_STRIKES, T0), totals: totals(500, 300, 20) };
    const other = { templateId: "tips", strikes: NO_STRIKES, totals: totals(500, 400, 2) };
    expect(templatesToPause("RED", [paused, other], T0 + HOUR_MS)).toEqual(["tips"]);
    expect(templatesToPause("RED", [paused, other], T0 + 3 * HOUR_MS)).toEqual(["promo"]);
  });
});
