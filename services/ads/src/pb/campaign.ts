import {
  CampaignObjective as ObjectivePb,
  CampaignStatus as StatusPb,
  type Flight as FlightPb,
} from "@kontor/proto/ads/v1/ads_service";
import type { CampaignObjective, CampaignStatus, Flight } from "../domain/campaign.js";

// Proto <-> domain mapping that both rpc/ and events/ need; it imports only
// domain/, so neither layer reaches into the other.

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

export function flightToPb(f: Flight): FlightPb {
  return { startTime: f.startAt, endTime: f.endAt };
}
