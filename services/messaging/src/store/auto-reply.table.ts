/** A business number's greeting and away messages (domain/tools/auto-replies.ts AutoReplySettings, as JSON). */
export interface AutoReplySettingsTable {
  phone_number_id: string;
  business_id: string;
  settings: unknown;
  updated_at: Date;
}

/** When a kind of automatic answer last went to a customer from a number (the time of the message it answered). */
export interface AutoReplySentTable {
  phone_number_id: string;
  customer_id: string;
  kind: string;
  sent_at: Date;
}

/** A business's opening hours from directory's snapshots (null: none published); `version` is the snapshot's. */
export interface BusinessHoursTable {
  business_id: string;
  hours: unknown;
  version: string;
  updated_at: Date;
}
