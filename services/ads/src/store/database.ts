import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { CampaignTable } from "./campaign.table.js";
import type { CampaignDayTable, ClickTable, ConversionTable, ImpressionTable, SpendLedgerTable } from "./serving.table.js";
import type { BusinessNumberTable, CustomerConsentTable, FollowerTable, InteractionTable, MarketingConsentTable, SponsoredSendTable, SponsoredStopTable } from "./audience.table.js";

export interface AdsDatabase extends KitTables {
  campaign: CampaignTable;
  campaign_day: CampaignDayTable;
  impression: ImpressionTable;
  click: ClickTable;
  spend_ledger: SpendLedgerTable;
  conversion: ConversionTable;
  customer_consent: CustomerConsentTable;
  marketing_consent: MarketingConsentTable;
  interaction: InteractionTable;
  sponsored_send: SponsoredSendTable;
  sponsored_stop: SponsoredStopTable;
  business_number: BusinessNumberTable;
  follower: FollowerTable;
}
