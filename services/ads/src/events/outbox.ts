import { CampaignCreated, CampaignUpdated, ClickRecorded, SpendRecorded } from "@kontor/proto/ads/v1/events";
import type { AdReferral } from "@kontor/proto/ads/v1/ads_service";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { Campaign } from "../domain/campaign.js";
import type { Placement } from "../domain/targeting.js";
import { flightToPb, objectiveToPb, placementToPb, statusToPb } from "../pb/campaign.js";
import { subjects } from "./subjects.js";

export function campaignCreatedEvent(campaign: Campaign): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.campaignCreated,
    payload: CampaignCreated.encode({
      meta: { eventId, occurredAt: campaign.createdAt, businessId: campaign.businessId },
      campaignId: campaign.id,
      name: campaign.name,
      objective: objectiveToPb[campaign.objective],
      status: statusToPb[campaign.status],
      dailyBudget: { amountMinor: campaign.dailyBudget.amountMinor.toString(), currency: campaign.dailyBudget.currency },
      flight: flightToPb(campaign.flight),
    }).finish(),
  };
}

export function campaignUpdatedEvent(campaign: Campaign, at: Date): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.campaignUpdated,
    payload: CampaignUpdated.encode({
      meta: { eventId, occurredAt: at, businessId: campaign.businessId },
      campaignId: campaign.id,
      status: statusToPb[campaign.status],
      reviewReasons: campaign.review.reasons,
    }).finish(),
  };
}

export interface ClickFacts {
  clickId: string;
  impressionId: string;
  campaignId: string;
  businessId: string;
  creativeId: string;
  customerId: string;
  placement: Placement;
  url: string;
  referral: AdReferral | undefined;
  costMinor: number;
  currency: string;
  at: Date;
}

export function clickRecordedEvent(c: ClickFacts): OutboxEvent {
  const eventId = `${c.clickId}:click`;
  return {
    eventId,
    subject: subjects.clickRecorded,
    payload: ClickRecorded.encode({
      meta: { eventId, occurredAt: c.at, businessId: c.businessId },
      clickId: c.clickId,
      impressionId: c.impressionId,
      campaignId: c.campaignId,
      creativeId: c.creativeId,
      customerId: c.customerId,
      placement: placementToPb[c.placement],
      url: c.url,
      referral: c.referral,
      cost: { amountMinor: String(c.costMinor), currency: c.currency },
      clickedAt: c.at,
    }).finish(),
  };
}

export interface SpendEntry {
  entryId: string;
  campaignId: string;
  businessId: string;
  day: string;
  amountMinor: number;
  currency: string;
  impressions: number;
  clicks: number;
  /** Sponsored messages sent. */
  messages: number;
  at: Date;
}

/** The event id is the ledger entry's id: one event per entry, whatever the retries. */
export function spendRecordedEvent(e: SpendEntry): OutboxEvent {
  return {
    eventId: e.entryId,
    subject: subjects.spendRecorded,
    payload: SpendRecorded.encode({
      meta: { eventId: e.entryId, occurredAt: e.at, businessId: e.businessId },
      campaignId: e.campaignId,
      amount: { amountMinor: String(e.amountMinor), currency: e.currency },
      impressions: String(e.impressions),
      clicks: String(e.clicks),
      messages: String(e.messages),
      day: e.day,
      entryId: e.entryId,
    }).finish(),
  };
}
