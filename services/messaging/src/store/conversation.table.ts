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
}

export type ConversationRow = Selectable<ConversationTable>;
