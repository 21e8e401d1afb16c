import type { AdsServiceServer } from "@kontor/proto/ads/v1/ads_service";
import type { AccessTableOf, Caller } from "@kontor/service-kit/access";

/** Campaigns are the advertiser's own: the business and its partner. */
const ADVERTISER: readonly Caller[] = ["business", "partner"];

/** Who may call each AdsService RPC; the kit refuses everyone else before a handler runs. */
export const adsAccess: AccessTableOf<AdsServiceServer> = {
  CreateCampaign: ADVERTISER,
  GetCampaign: ADVERTISER,
  ListCampaigns: ADVERTISER,
};
