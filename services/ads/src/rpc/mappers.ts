import type { CampaignObjective as ObjectivePb, Campaign as CampaignPb } from "@kontor/proto/ads/v1/ads_service";
import type { Campaign, CampaignObjective } from "../domain/campaign.js";
import { flightToPb, objectiveToPb, statusToPb } from "../pb/campaign.js";

/** Undefined for UNSPECIFIED and for numbers this version does not know. */
export function objectiveFromPb(value: ObjectivePb): CampaignObjective | undefined {
  return (Object.keys(objectiveToPb) as CampaignObjective[]).find((k) => objectiveToPb[k] === value);
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
