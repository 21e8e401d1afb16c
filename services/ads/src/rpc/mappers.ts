import {
  type Campaign as CampaignPb,
  type CampaignDay as CampaignDayPb,
  type CreateCampaignRequest,
  type ServedAd as ServedAdPb,
} from "@kontor/proto/ads/v1/ads_service";
import type { Campaign, NewCampaignInput } from "../domain/campaign.js";
import type { Targeting } from "../domain/targeting.js";
import type { ReportRow } from "../domain/report.js";
import type { Served } from "../serving/serving-engine.js";
import { bidKindToPb, creativeToPb, flightToPb, fromPb, goalToPb, objectiveToPb, placementToPb, statusToPb, targetingToPb } from "../pb/campaign.js";

const money = (amountMinor: bigint | number, currency: string) => ({ amountMinor: amountMinor.toString(), currency });

export function campaignToPb(c: Campaign): CampaignPb {
  return {
    id: c.id,
    businessId: c.businessId,
    name: c.name,
    objective: objectiveToPb[c.objective],
    goal: goalToPb[c.goal],
    status: statusToPb[c.status],
    dailyBudget: money(c.dailyBudget.amountMinor, c.dailyBudget.currency),
    lifetimeBudget: c.lifetimeBudget ? money(c.lifetimeBudget.amountMinor, c.lifetimeBudget.currency) : undefined,
    bid: { kind: bidKindToPb[c.bid.kind], amount: money(c.bid.amount.amountMinor, c.bid.amount.currency) },
    creatives: c.creatives.map(creativeToPb),
    targeting: targetingToPb(c.targeting),
    frequencyCap: c.frequencyCap,
    review: { reasons: c.review.reasons, reviewedAt: c.review.reviewedAt, reviewer: c.review.reviewer },
    flight: flightToPb(c.flight),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/** A placement number this version does not know is refused by the validator, as `targeting.placements[i]`. */
function targetingFromPb(t: CreateCampaignRequest["targeting"]): Targeting | undefined {
  if (!t) return undefined;
  return {
    countries: t.countries,
    regions: t.regions,
    languages: t.languages,
    minAge: t.minAge,
    maxAge: t.maxAge,
    interests: t.interests,
    messagedWithinDays: t.messagedWithinDays,
    orderedWithinDays: t.orderedWithinDays,
    placements: t.placements.map((p) => fromPb(placementToPb, p) ?? ("?" as never)),
    keywords: t.keywords,
    followersOnly: t.followersOnly,
  };
}

export function newCampaignFromPb(req: CreateCampaignRequest): NewCampaignInput {
  return {
    businessId: req.businessId,
    name: req.name,
    objective: fromPb(objectiveToPb, req.objective),
    goal: fromPb(goalToPb, req.goal),
    dailyBudget: req.dailyBudget,
    lifetimeBudget: req.lifetimeBudget,
    bid: req.bid ? { kind: fromPb(bidKindToPb, req.bid.kind), amount: req.bid.amount } : undefined,
    creatives: req.creatives.map(({ id: _id, ...c }) => c),
    targeting: targetingFromPb(req.targeting),
    frequencyCap: req.frequencyCap,
    flight: req.flight,
  };
}

/** A served creative's message, built once per creative (and its bytes encoded once, served-wire.ts). */
const servedCreatives = new WeakMap<Served["creative"], NonNullable<ServedAdPb["creative"]>>();

export function servedToPb(s: Served): ServedAdPb {
  let creative = servedCreatives.get(s.creative);
  if (!creative) servedCreatives.set(s.creative, (creative = creativeToPb(s.creative)));
  return {
    adToken: s.token,
    impressionId: s.impressionId,
    campaignId: s.campaignId,
    businessId: s.businessId,
    objective: objectiveToPb[s.objective],
    creative,
  };
}

export function reportRowToPb(r: ReportRow): CampaignDayPb {
  return {
    campaignId: r.campaignId,
    businessId: r.businessId,
    day: r.day,
    impressions: String(r.impressions),
    reach: String(r.reach),
    clicks: String(r.clicks),
    ctr: r.ctr,
    spend: money(r.spendMinor, r.currency),
    conversations: String(r.conversations),
    orders: String(r.orders),
    revenue: money(r.revenueMinor, r.currency),
    costPerConversation: r.costPerConversationMinor === undefined ? undefined : money(r.costPerConversationMinor, r.currency),
    roas: r.roas,
    messagesSent: String(r.messagesSent),
    messagesDelivered: String(r.messagesDelivered),
    messagesRead: String(r.messagesRead),
    messagesClicked: String(r.messagesClicked),
  };
}
