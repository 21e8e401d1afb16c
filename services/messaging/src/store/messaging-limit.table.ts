import type { Generated } from "kysely";

/** A business's messaging-limit tier (index into domain/policy/tiers.ts TIERS). */
export interface MessagingLimitTable {
  business_id: string;
  tier: Generated<number>;
  /** Last time the usage stood at or above half the limit (the upgrade rule). */
  share_reached_at: Date | null;
  tier_changed_at: Generated<Date>;
}

/** The unique customers of a business's business-initiated conversations, each counted once per rolling 24 h. */
export interface MessagingLimitUsageTable {
  business_id: string;
  customer_id: string;
  counted_at: Date;
}

/** Per business number and hour: the quality rating's signals. */
export interface NumberQualityTable {
  phone_number_id: string;
  slot_start: Date;
  sent: Generated<string>;
  read: Generated<string>;
  blocked: Generated<string>;
  reported: Generated<string>;
}
