import type { Generated, Selectable } from "kysely";

export interface ConversationTable {
  id: string;
  business_id: string;
  phone_number_id: string;
  customer_id: string;
  last_seq: Generated<string>;
  customer_read_seq: Generated<string>;
  business_read_seq: Generated<string>;
  last_activity_at: Generated<Date>;
  created_at: Generated<Date>;
  // The policy's windows (send-policy.ts), written by the group commit.
  last_inbound_at: Generated<Date | null>;
  referral_reply_by: Generated<Date | null>;
  free_entry_until: Generated<Date | null>;
  service_window_until: Generated<Date | null>;
  marketing_window_until: Generated<Date | null>;
  utility_window_until: Generated<Date | null>;
  authentication_window_until: Generated<Date | null>;
  // Business tools: the agent the business assigned it to.
  assigned_agent_id: Generated<string | null>;
  assigned_at: Generated<Date | null>;
}

export type ConversationRow = Selectable<ConversationTable>;
