import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { BidKind, CampaignGoal, CampaignObjective, CampaignStatus, Creative, FrequencyCap } from "../domain/campaign.js";
import type { Targeting } from "../domain/targeting.js";

/** jsonb: read as the value, written as its JSON text. */
type Json<T> = ColumnType<T, string, string>;

export interface CampaignTable {
  id: string;
  business_id: string;
  name: string;
  objective: CampaignObjective;
  goal: CampaignGoal;
  status: Generated<CampaignStatus>;
  /** int8 arrives as a string (exact 64-bit); write as a string too. */
  daily_budget_minor: string;
  lifetime_budget_minor: string | null;
  currency: string;
  bid_kind: BidKind;
  bid_minor: string;
  creatives: Json<Creative[]>;
  targeting: Json<Targeting>;
  frequency_cap: Json<FrequencyCap>;
  review: Json<{ reasons: string[]; reviewedAt?: string; reviewer: string }>;
  lifetime_leased_milli: Generated<string>;
  flight_start_at: Date;
  flight_end_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type CampaignRow = Selectable<CampaignTable>;
export type NewCampaignRow = Insertable<CampaignTable>;
