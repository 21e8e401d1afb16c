import { AdsServiceService, type AdsServiceServer } from "@kontor/proto/ads/v1/ads_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { requireBusiness } from "@kontor/service-kit/auth";
import { InvalidInput } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { CampaignService } from "../domain/campaign-service.js";
import { campaignToPb, objectiveFromPb } from "./mappers.js";

type Cursor = { t: string; id: string };
// Checked fully: a forged token must never reach pg as a malformed timestamp or uuid.
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Cursor).t === "string" &&
  Number.isFinite(Date.parse((v as Cursor).t)) &&
  typeof (v as Cursor).id === "string" &&
  isUuid((v as Cursor).id);

/** Thin handlers: decode → authorize → domain → map. Campaigns are private to their business. */
export function registerAdsServer(grpc: KitServer, campaigns: CampaignService, maxPageSize: number): void {
  const handlers: AdsServiceServer = {
    createCampaign: grpc.unary("CreateCampaign", async (req, ctx) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      requireBusiness(ctx.principal, req.businessId);
      const campaign = await campaigns.createCampaign({
        businessId: req.businessId,
        name: req.name,
        objective: objectiveFromPb(req.objective),
        dailyBudget: req.dailyBudget,
        flight: req.flight,
      });
      return { campaign: campaignToPb(campaign) };
    }),
    getCampaign: grpc.unary("GetCampaign", async (req, ctx) => {
      if (!req.campaignId) throw new InvalidInput("campaign_id", "is required");
      const campaign = await campaigns.getCampaign(req.campaignId);
      requireBusiness(ctx.principal, campaign.businessId);
      return { campaign: campaignToPb(campaign) };
    }),
    listCampaigns: grpc.unary("ListCampaigns", async (req, ctx) => {
      if (!req.businessId) throw new InvalidInput("business_id", "is required");
      requireBusiness(ctx.principal, req.businessId);
      const { limit, take, cursor } = readPage(req.page, isCursor, maxPageSize);
      const rows = await campaigns.listCampaigns(req.businessId, take, cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined);
      const { items, page } = pageOf(rows, limit, (last) => ({ t: last.createdAt.toISOString(), id: last.id }));
      return { campaigns: items.map(campaignToPb), page };
    }),
  };
  grpc.addService(AdsServiceService, handlers);
}
