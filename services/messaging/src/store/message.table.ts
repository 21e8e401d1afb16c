import type { Generated, Insertable, Selectable } from "kysely";

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

export type MessageRow = Selectable<MessageTable>;
export type NewMessageRow = Insertable<MessageTable>;
