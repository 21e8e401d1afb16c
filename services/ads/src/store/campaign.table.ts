import type { Generated, Insertable, Selectable } from "kysely";
import type { CampaignObjective, CampaignStatus } from "../domain/campaign.js";

export interface CampaignTable {
  id: string;
  business_id: string;
  name: string;
  objective: CampaignObjective;
  status: Generated<CampaignStatus>;
  /** int8 arrives as a string (exact 64-bit); write as a string too. */
  daily_budget_minor: string;
  currency: string;
  flight_start_at: Date;
  flight_end_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type CampaignRow = Selectable<CampaignTable>;
export type NewCampaignRow = Insertable<CampaignTable>;
