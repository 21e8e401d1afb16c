import type { ColumnType, Generated } from "kysely";

/** date columns, written and compared as "YYYY-MM-DD"; select them with to_char (pg would parse a Date in local time). */
type Day = string;
type Int8 = ColumnType<string, string | number, string | number>;

export interface CampaignDayTable {
  campaign_id: string;
  day: Day;
  budget_milli: Int8;
  leased_milli: Generated<Int8>;
  spent_milli: Generated<Int8>;
  impressions: Generated<Int8>;
  clicks: Generated<Int8>;
  messages: Generated<Int8>;
  /** What the spend ledger holds of this day (the rest is recorded by the next settlement). */
  recorded_milli: Generated<Int8>;
  recorded_impressions: Generated<Int8>;
  recorded_clicks: Generated<Int8>;
  recorded_messages: Generated<Int8>;
}

export interface ImpressionTable {
  id: string;
  campaign_id: string;
  business_id: string;
  creative_id: string;
  customer_id: string;
  placement: string;
  served_at: Date;
  cost_milli: Int8;
}

export interface ClickTable {
  id: string;
  impression_id: string;
  campaign_id: string;
  business_id: string;
  creative_id: string;
  customer_id: string;
  placement: string;
  clicked_at: Date;
  cost_milli: Int8;
}

export interface SpendLedgerTable {
  id: string;
  campaign_id: string;
  business_id: string;
  day: Day;
  amount_milli: Int8;
  amount_minor: Int8;
  currency: string;
  impressions: number;
  clicks: number;
  messages: Generated<number>;
  recorded_at: Date;
}

export interface ConversionTable {
  kind: "conversation" | "order";
  ref_id: string;
  campaign_id: string;
  business_id: string;
  click_id: string;
  at: Date;
  revenue_minor: ColumnType<string, string | number | undefined, string | number>;
  currency: Generated<string>;
}
