import type { Generated, Insertable, Selectable } from "kysely";

export interface CustomerTable {
  id: string;
  e164: string;
  profile_name: Generated<string>;
  read_receipts: Generated<boolean>;
  locale: Generated<string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface BusinessNumberTable {
  phone_number_id: string;
  business_id: string;
  e164: string;
  display_name: Generated<string>;
  verified: Generated<boolean>;
  verified_name: Generated<string>;
  active: Generated<boolean>;
  version: Generated<string>;
  updated_at: Generated<Date>;
}

export interface InboxTable {
  participant: string;
  last_seq: Generated<string>;
}

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

export interface BusinessKeyTable {
  key_id: Generated<number>;
  business_id: string;
  wrapped_key: Uint8Array | null;
  created_at: Generated<Date>;
  erased_at: Date | null;
}

export interface MessageTable {
  conversation_id: string;
  seq: string;
  id: string;
  sender: string;
  recipient: string;
  rseq: string;
  /** The sender's inbox number (customers' own sends, echoed to their other devices); null otherwise. */
  sender_rseq: string | null;
  client_message_id: Generated<string>;
  content_type: number;
  key_id: number;
  body: Uint8Array;
  status: number;
  error_code: Generated<number>;
  created_at: Date;
  status_at: Generated<Date>;
}

export type CustomerRow = Selectable<CustomerTable>;
export type BusinessNumberRow = Selectable<BusinessNumberTable>;
export type ConversationRow = Selectable<ConversationTable>;
export type MessageRow = Selectable<MessageTable>;
export type NewMessageRow = Insertable<MessageTable>;
