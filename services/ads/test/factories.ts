import { BidKind, CampaignGoal, CampaignObjective, type CreateCampaignRequest, type Creative, type Targeting } from "@kontor/proto/ads/v1/ads_service";

let n = 0;

const DAY = 24 * 3600 * 1000;

/** The secret tests sign ad tokens with. */
export const TOKEN_SECRET = "test-ads-token-secret-0123456789abcdef";

export function buildCreative(overrides: Partial<Creative> = {}): Creative {
  return {
    id: "",
    headline: "Handmade mugs",
    text: "Glazed by hand in Porto.",
    imageUrl: "https://cdn.kontor.local/mug.jpg",
    callToAction: "Send message",
    landingUrl: "https://pottery.example/mugs",
    prefilledMessage: "Hi! I'd like a mug.",
    templateName: "",
    templateLanguage: "",
    ...overrides,
  };
}

export function buildTargeting(overrides: Partial<Targeting> = {}): Targeting {
  return { countries: [], regions: [], languages: [], minAge: 0, maxAge: 0, interests: [], messagedWithinDays: 0, orderedWithinDays: 0, placements: [], keywords: [], followersOnly: false, ...overrides };
}

export function buildCreateCampaign(overrides: Partial<CreateCampaignRequest> = {}): CreateCampaignRequest {
  n += 1;
  const start = new Date(Date.now() + DAY);
  return {
    businessId: "biz_pottery",
    name: `Winter mugs ${n}`,
    objective: CampaignObjective.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT,
    goal: CampaignGoal.CAMPAIGN_GOAL_UNSPECIFIED,
    dailyBudget: { amountMinor: "5000", currency: "EUR" },
    lifetimeBudget: undefined,
    bid: { kind: BidKind.BID_KIND_CPM, amount: { amountMinor: "200", currency: "EUR" } },
    creatives: [buildCreative()],
    targeting: buildTargeting(),
    frequencyCap: { perDay: 0, perWeek: 0 },
    flight: { startTime: start, endTime: new Date(start.getTime() + 30 * DAY) },
    ...overrides,
  };
}
