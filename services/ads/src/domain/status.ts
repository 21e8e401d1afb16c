import { PolicyRefused } from "@kontor/service-kit/errors";
import type { CampaignStatus } from "./campaign.js";

export type CampaignAction = "submit" | "approve" | "reject" | "pause" | "resume" | "end";

/** draft → in_review → active ↔ paused → ended; a rejection goes back to draft; anything but ended may end. */
const transitions: Record<CampaignAction, { from: readonly CampaignStatus[]; to: CampaignStatus }> = {
  submit: { from: ["draft"], to: "in_review" },
  approve: { from: ["in_review"], to: "active" },
  reject: { from: ["in_review"], to: "draft" },
  pause: { from: ["active"], to: "paused" },
  resume: { from: ["paused"], to: "active" },
  end: { from: ["draft", "in_review", "active", "paused"], to: "ended" },
};

/** The status after `action`, or FAILED_PRECONDITION naming the illegal transition. */
export function nextStatus(current: CampaignStatus, action: CampaignAction): CampaignStatus {
  const t = transitions[action];
  if (!t.from.includes(current)) {
    throw new PolicyRefused("INVALID_TRANSITION", `a campaign in status ${current.toUpperCase()} cannot ${action}`);
  }
  return t.to;
}
