import { AdsServiceService, type AdsServiceServer, type AdContext } from "@kontor/proto/ads/v1/ads_service";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { principalLabel, requireBusiness, requireCustomer, type Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotYours } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { CampaignService } from "../domain/campaign-service.js";
import type { Campaign } from "../domain/campaign.js";
import type { ClickService } from "../domain/click-service.js";
import type { ReportService } from "../domain/report-service.js";
import type { SponsoredService } from "../domain/sponsored-service.js";
import type { ServingEngine } from "../serving/serving-engine.js";
import { placementToPb, fromPb } from "../pb/campaign.js";
import { campaignToPb, newCampaignFromPb, reportRowToPb, servedToPb } from "./mappers.js";
import { encodeSelectAdsResponse } from "./served-wire.js";

type Cursor = { t: string; id: string };
// Checked fully: a forged token must never reach pg as a malformed timestamp or uuid.
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" &&
  v !== null &&
  typeof (v as Cursor).t === "string" &&
  Number.isFinite(Date.parse((v as Cursor).t)) &&
  typeof (v as Cursor).id === "string" &&
  isUuid((v as Cursor).id);

const MAX_SLOTS = 5;
const CUSTOMER_ID = /^[A-Za-z0-9._:@+-]{1,128}$/;

export interface AdsHandlers {
  campaigns: CampaignService;
  serving: ServingEngine;
  clicks: ClickService;
  reports: ReportService;
  sponsored: SponsoredService;
  maxPageSize: number;
}

/** A campaign is its business's: another tenant gets PERMISSION_DENIED. */
const ownedBy = (principal: Principal) => (c: Campaign) => requireBusiness(principal, c.businessId);

function contextOf(ctx: AdContext | undefined) {
  const c = ctx ?? { country: "", region: "", language: "", age: 0, interests: [], query: "" };
  if (c.country && !/^[A-Z]{2}$/.test(c.country)) throw new InvalidInput("context.country", "must be an ISO 3166-1 alpha-2 code");
  if (c.language && !/^[a-z]{2,3}$/.test(c.language)) throw new InvalidInput("context.language", "must be a BCP 47 primary language");
  if (c.age < 0 || c.age > 150) throw new InvalidInput("context.age", "must be 0-150");
  return c;
}

/** Thin handlers: decode → authorize → domain → map. Campaigns are private to their business. */
export function registerAdsServer(grpc: KitServer, h: AdsHandlers): void {
  const { campaigns } = h;
  const need = (field: string, value: string) => {
    if (!value) throw new InvalidInput(field, "is required");
  };
  const handlers: AdsServiceServer = {
    createCampaign: grpc.unary("CreateCampaign", async (req, ctx) => {
      need("business_id", req.businessId);
      requireBusiness(ctx.principal, req.businessId);
      return { campaign: campaignToPb(await campaigns.createCampaign(newCampaignFromPb(req))) };
    }),
    getCampaign: grpc.unary("GetCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      const campaign = await campaigns.getCampaign(req.campaignId);
      requireBusiness(ctx.principal, campaign.businessId);
      return { campaign: campaignToPb(campaign) };
    }),
    listCampaigns: grpc.unary("ListCampaigns", async (req, ctx) => {
      need("business_id", req.businessId);
      requireBusiness(ctx.principal, req.businessId);
      const { limit, take, cursor } = readPage(req.page, isCursor, h.maxPageSize);
      const rows = await campaigns.listCampaigns(req.businessId, take, cursor ? { createdAt: new Date(cursor.t), id: cursor.id } : undefined);
      const { items, page } = pageOf(rows, limit, (last) => ({ t: last.createdAt.toISOString(), id: last.id }));
      return { campaigns: items.map(campaignToPb), page };
    }),
    submitCampaign: grpc.unary("SubmitCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      return { campaign: campaignToPb(await campaigns.submit(req.campaignId, ownedBy(ctx.principal))) };
    }),
    reviewCampaign: grpc.unary("ReviewCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      return { campaign: campaignToPb(await campaigns.review(req.campaignId, req.approve, req.reasons, principalLabel(ctx.principal), () => undefined)) };
    }),
    pauseCampaign: grpc.unary("PauseCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      return { campaign: campaignToPb(await campaigns.pause(req.campaignId, ownedBy(ctx.principal))) };
    }),
    resumeCampaign: grpc.unary("ResumeCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      return { campaign: campaignToPb(await campaigns.resume(req.campaignId, ownedBy(ctx.principal))) };
    }),
    endCampaign: grpc.unary("EndCampaign", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      return { campaign: campaignToPb(await campaigns.end(req.campaignId, ownedBy(ctx.principal))) };
    }),
    selectAds: grpc.unary("SelectAds", async (req, ctx) => {
      const placement = fromPb(placementToPb, req.placement);
      if (!placement) throw new InvalidInput("placement", "must be DIRECTORY_SEARCH, APP_BANNER or APP_FEED");
      if (req.customerId && !CUSTOMER_ID.test(req.customerId)) throw new InvalidInput("customer_id", "is not a customer id");
      // A customer asks for itself (or anonymously); surfaces may ask for any viewer.
      if (ctx.principal.kind === "customer" && req.customerId) requireCustomer(ctx.principal, req.customerId);
      if (req.count < 0 || req.count > MAX_SLOTS) throw new InvalidInput("count", `must be 0-${MAX_SLOTS}`);
      const c = contextOf(req.context);
      const served = h.serving.select({
        placement,
        customerId: req.customerId,
        country: c.country,
        region: c.region,
        language: c.language,
        age: c.age,
        interests: c.interests,
        query: c.query,
        count: req.count || 1,
      });
      return { ads: served.map(servedToPb) };
    }),
    recordClick: grpc.unary("RecordClick", async (req, ctx) => {
      need("ad_token", req.adToken);
      const claims = h.clicks.claimsOf(req.adToken);
      // A customer clicks only ads served to itself.
      if (ctx.principal.kind === "customer" && claims.customerId !== ctx.principal.customerId) throw new NotYours("this ad was served to another viewer");
      const r = await h.clicks.record(claims, req.clickId);
      return { clickId: r.clickId, counted: r.counted, url: r.url, referral: r.referral };
    }),
    getCampaignReport: grpc.unary("GetCampaignReport", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      const campaign = await campaigns.getCampaign(req.campaignId);
      requireBusiness(ctx.principal, campaign.businessId);
      return { days: (await h.reports.campaign(campaign, req.fromDay, req.toDay)).map(reportRowToPb) };
    }),
    exportCampaignReports: grpc.serverStream("ExportCampaignReports", async (req, ctx, call) => {
      need("business_id", req.businessId);
      requireBusiness(ctx.principal, req.businessId);
      for await (const rows of h.reports.export(req.businessId, req.fromDay, req.toDay)) {
        for (const row of rows) {
          if (ctx.signal.aborted) return;
          // Respect the client's pace: wait for the buffer to drain before writing more.
          if (!call.write({ row: reportRowToPb(row) })) await new Promise((r) => call.once("drain", r));
        }
      }
    }),
    sendSponsoredMessages: grpc.unary("SendSponsoredMessages", async (req, ctx) => {
      need("campaign_id", req.campaignId);
      if (req.customerIds.length === 0) throw new InvalidInput("customer_ids", "at least one customer");
      req.customerIds.forEach((id, i) => {
        if (!CUSTOMER_ID.test(id)) throw new InvalidInput(`customer_ids[${i}]`, "is not a customer id");
      });
      const campaign = await campaigns.getCampaign(req.campaignId);
      requireBusiness(ctx.principal, campaign.businessId);
      return { results: await h.sponsored.send(campaign, req.customerIds, ctx.requestId) };
    }),
    stopSponsoredMessages: grpc.unary("StopSponsoredMessages", async (req, ctx) => {
      need("customer_id", req.customerId);
      if (ctx.principal.kind === "customer") requireCustomer(ctx.principal, req.customerId);
      await h.sponsored.stop(req.customerId, req.businessId);
      return {};
    }),
  };
  // SelectAds answers through its own encoder (the same bytes, each creative encoded once).
  grpc.addService({ ...AdsServiceService, selectAds: { ...AdsServiceService.selectAds, responseSerialize: encodeSelectAdsResponse } }, handlers);
}

