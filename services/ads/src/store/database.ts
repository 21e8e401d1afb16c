import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { CampaignTable } from "./campaign.table.js";

export interface AdsDatabase extends KitTables {
  campaign: CampaignTable;
}
