import { describe, expect, it } from "vitest";
import { lastTouch } from "./attribution.js";
import { sponsoredDecision } from "./sponsored.js";

const DAY = 86_400_000;

describe("lastTouch", () => {
  const touches = [
    { clickId: "k1", campaignId: "a", atMs: 0 },
    { clickId: "k2", campaignId: "b", atMs: 2 * DAY },
    { clickId: "k3", campaignId: "c", atMs: 10 * DAY },
  ];
  it("when several clicks precede the conversion within the window, then the latest wins", () => {
    expect(lastTouch(touches, 5 * DAY, 7 * DAY)?.clickId).toBe("k2");
  });
  it("when the last click is exactly at the window's edge, then it counts; a millisecond later it does not", () => {
    expect(lastTouch(touches, 9 * DAY, 7 * DAY)?.clickId).toBe("k2");
    expect(lastTouch(touches, 9 * DAY + 1, 7 * DAY)).toBeUndefined();
  });
  it("when the only click comes after the conversion, then nothing is attributed", () => {
    expect(lastTouch([touches[2]!], 5 * DAY, 7 * DAY)).toBeUndefined();
  });
});

describe("sponsoredDecision", () => {
  const ok = { optedIn: true, notFollowing: false, stopped: false, alreadySent: false, sentThisWeek: 0, weeklyCap: 2 };
  it("when opted in, not stopped, not sent and under the cap, then send", () => expect(sponsoredDecision(ok)).toBe("send"));
  it("when any rule refuses, then that rule is the reason", () => {
    expect(sponsoredDecision({ ...ok, optedIn: false })).toBe("not_opted_in");
    expect(sponsoredDecision({ ...ok, stopped: true })).toBe("stopped");
    expect(sponsoredDecision({ ...ok, notFollowing: true })).toBe("not_following");
    expect(sponsoredDecision({ ...ok, sentThisWeek: 1 })).toBe("send");
    expect(sponsoredDecision({ ...ok, sentThisWeek: 2 })).toBe("weekly_cap");
    expect(sponsoredDecision({ ...ok, alreadySent: true })).toBe("already_sent");
  });
});
