import {
  CampaignObjective as ObjectivePb,
  CampaignStatus as StatusPb,
  type Campaign as CampaignPb,
  type Flight as FlightPb,
} from "@kontor/proto/ads/v1/ads_service";
import type { Campaign, CampaignObjective, CampaignStatus, Flight } from "../domain/campaign.js";

export const objectiveToPb: Record<CampaignObjective, ObjectivePb> = {
  click_to_chat: ObjectivePb.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT,
  sponsored_message: ObjectivePb.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
  display: ObjectivePb.CAMPAIGN_OBJECTIVE_DISPLAY,
};

export const statusToPb: Record<CampaignStatus, StatusPb> = {
  draft: StatusPb.CAMPAIGN_STATUS_DRAFT,
  active: StatusPb.CAMPAIGN_STATUS_ACTIVE,
  paused: StatusPb.CAMPAIGN_STATUS_PAUSED,
  ended: StatusPb.CAMPAIGN_STATUS_ENDED,
};

/** Undefined for UNSPECIFIED and for numbers this version does not know. */
export function objectiveFromPb(value: ObjectivePb): CampaignObjective | undefined {
  return (Object.keys(objectiveToPb) as CampaignObjective[]).find((k) => objectiveToPb[k] === value);
}

export function flightToPb(f: Flight): FlightPb {
  return { startTime: f.startAt, endTime: f.endAt };
}

export function campaignToPb(c: Campaign): CampaignPb {
  return {
    id: c.id,
    businessId: c.businessId,
    name: c.name,
    objective: objectiveToPb[c.objective],
    status: statusToPb[c.status],
    dailyBudget: { amountMinor: c.dailyBudget.amountMinor.toString(), currency: c.dailyBudget.currency },
    flight: flightToPb(c.flight),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}
