import { describe, expect, it } from "vitest";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { campaignStatuses, type CampaignStatus } from "./campaign.js";
import { nextStatus, type CampaignAction } from "./status.js";

const legal: [CampaignStatus, CampaignAction, CampaignStatus][] = [
  ["draft", "submit", "in_review"],
  ["in_review", "approve", "active"],
  ["in_review", "reject", "draft"],
  ["active", "pause", "paused"],
  ["paused", "resume", "active"],
  ["draft", "end", "ended"],
  ["in_review", "end", "ended"],
  ["active", "end", "ended"],
  ["paused", "end", "ended"],
];

describe("nextStatus", () => {
  it("when the transition is on the machine, then it lands where the machine says", () => {
    for (const [from, action, to] of legal) expect(nextStatus(from, action)).toBe(to);
  });

  it("when the transition is not on the machine, then FAILED_PRECONDITION (PolicyRefused) with INVALID_TRANSITION", () => {
    const actions: CampaignAction[] = ["submit", "approve", "reject", "pause", "resume", "end"];
    for (const from of campaignStatuses) {
      for (const action of actions) {
        if (legal.some(([f, a]) => f === from && a === action)) continue;
        expect(() => nextStatus(from, action), `${from} ${action}`).toThrow(PolicyRefused);
        try {
          nextStatus(from, action);
        } catch (err) {
          expect((err as PolicyRefused).reason).toBe("INVALID_TRANSITION");
        }
      }
    }
  });
});
