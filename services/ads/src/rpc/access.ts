import type { AdsServiceServer } from "@kontor/proto/ads/v1/ads_service";
import { services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";

/** Campaigns and their reports are the advertiser's own: the business and its partner. */
const ADVERTISER: readonly Caller[] = ["business", "partner"];
/** Surfaces that show ads: the customer app itself, and the services that render for customers. */
const SURFACE: readonly Caller[] = ["customer", ...services("directory", "console", "gateway")];
/** Staff who decide on submitted campaigns. */
export const REVIEWER_ROLE = "ads_reviewer";

/** Who may call each AdsService RPC; the kit refuses everyone else before a handler runs. */
export const adsAccess: AccessTableOf<AdsServiceServer> = {
  CreateCampaign: ADVERTISER,
  GetCampaign: ADVERTISER,
  ListCampaigns: ADVERTISER,
  SubmitCampaign: ADVERTISER,
  ReviewCampaign: [`staff:${REVIEWER_ROLE}`],
  PauseCampaign: ADVERTISER,
  ResumeCampaign: ADVERTISER,
  EndCampaign: ADVERTISER,
  SelectAds: SURFACE,
  RecordClick: SURFACE,
  GetCampaignReport: ADVERTISER,
  ExportCampaignReports: ADVERTISER,
  SendSponsoredMessages: ADVERTISER,
  StopSponsoredMessages: ["customer", ...services("messaging", "console", "gateway")],
};
