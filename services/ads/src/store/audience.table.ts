import type { ColumnType } from "kysely";
export interface CustomerConsentTable {
  customer_id: string;
  ad_personalization: boolean;
  changed_at: Date;
}

export interface MarketingConsentTable {
  customer_id: string;
  business_id: string;
  opted_in: boolean;
  changed_at: Date;
}

export interface InteractionTable {
  customer_id: string;
  business_id: string;
  last_messaged_at: Date | null;
  last_ordered_at: Date | null;
}

export interface SponsoredSendTable {
  campaign_id: string;
  customer_id: string;
  business_id: string;
  sent_at: Date;
  message_id: string | null;
  status: "pending" | "sent" | "delivered" | "read" | "failed";
  /** The message's price (thousandths of a minor unit), reserved from the campaign-day before the send. */
  cost_milli: ColumnType<string, string | number | undefined, string | number>;
  /** The customer's first reply to it (a button tap or a quoted reply). */
  clicked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface SponsoredStopTable {
  customer_id: string;
  business_id: string;
  stopped_at: Date;
}

export interface BusinessNumberTable {
  business_id: string;
  phone_number_id: string;
  updated_at: Date;
}

export interface FollowerTable {
  business_id: string;
  customer_id: string;
  following: boolean;
  changed_at: Date;
}
