import {
  BidKind as BidKindPb,
  CampaignGoal as GoalPb,
  CampaignObjective as ObjectivePb,
  CampaignStatus as StatusPb,
  Placement as PlacementPb,
  type Creative as CreativePb,
  type Flight as FlightPb,
  type Targeting as TargetingPb,
} from "@kontor/proto/ads/v1/ads_service";
import type { BidKind, CampaignGoal, CampaignObjective, CampaignStatus, Creative, Flight } from "../domain/campaign.js";
import type { Placement, Targeting } from "../domain/targeting.js";

// Proto <-> domain mapping that both rpc/ and events/ need; it imports only
// domain/, so neither layer reaches into the other.

export const objectiveToPb: Record<CampaignObjective, ObjectivePb> = {
  click_to_chat: ObjectivePb.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT,
  sponsored_message: ObjectivePb.CAMPAIGN_OBJECTIVE_SPONSORED_MESSAGE,
  display: ObjectivePb.CAMPAIGN_OBJECTIVE_DISPLAY,
};

export const goalToPb: Record<CampaignGoal, GoalPb> = {
  messages: GoalPb.CAMPAIGN_GOAL_MESSAGES,
  traffic: GoalPb.CAMPAIGN_GOAL_TRAFFIC,
  sales: GoalPb.CAMPAIGN_GOAL_SALES,
};

export const statusToPb: Record<CampaignStatus, StatusPb> = {
  draft: StatusPb.CAMPAIGN_STATUS_DRAFT,
  in_review: StatusPb.CAMPAIGN_STATUS_IN_REVIEW,
  active: StatusPb.CAMPAIGN_STATUS_ACTIVE,
  paused: StatusPb.CAMPAIGN_STATUS_PAUSED,
  ended: StatusPb.CAMPAIGN_STATUS_ENDED,
};

export const bidKindToPb: Record<BidKind, BidKindPb> = {
  cpm: BidKindPb.BID_KIND_CPM,
  cpc: BidKindPb.BID_KIND_CPC,
};

export const placementToPb: Record<Placement, PlacementPb> = {
  directory_search: PlacementPb.PLACEMENT_DIRECTORY_SEARCH,
  app_banner: PlacementPb.PLACEMENT_APP_BANNER,
  app_feed: PlacementPb.PLACEMENT_APP_FEED,
};

/** The domain value of a proto enum number; undefined for UNSPECIFIED and numbers this version does not know. */
export function fromPb<D extends string>(table: Record<D, number>, value: number): D | undefined {
  return (Object.keys(table) as D[]).find((k) => table[k] === value);
}

export function flightToPb(f: Flight): FlightPb {
  return { startTime: f.startAt, endTime: f.endAt };
}

export function creativeToPb(c: Creative): CreativePb {
  return { ...c };
}

export function targetingToPb(t: Targeting): TargetingPb {
  return { ...t, placements: t.placements.map((p) => placementToPb[p]) };
}
