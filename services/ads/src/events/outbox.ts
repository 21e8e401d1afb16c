import { CampaignCreated } from "@kontor/proto/ads/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { Campaign } from "../domain/campaign.js";
import { flightToPb, objectiveToPb, statusToPb } from "../pb/campaign.js";
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
