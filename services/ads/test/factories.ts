import { CampaignObjective, type CreateCampaignRequest } from "@kontor/proto/ads/v1/ads_service";

let n = 0;

const DAY = 24 * 3600 * 1000;

export function buildCreateCampaign(overrides: Partial<CreateCampaignRequest> = {}): CreateCampaignRequest {
  n += 1;
  const start = new Date(Date.now() + DAY);
  return {
    businessId: "biz_pottery",
    name: `Winter mugs ${n}`,
    objective: CampaignObjective.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT,
    dailyBudget: { amountMinor: "5000", currency: "EUR" },
    flight: { startTime: start, endTime: new Date(start.getTime() + 30 * DAY) },
    ...overrides,
  };
}
