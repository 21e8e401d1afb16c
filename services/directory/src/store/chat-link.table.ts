import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

export interface ChatLinkTable {
  code: string;
  business_id: string;
  phone_number_id: string | null;
  prefilled_message: Generated<string>;
  campaign: Generated<string>;
  referral_tag: Generated<string>;
  active: Generated<boolean>;
  open_count: ColumnType<string, string | undefined, string>;
  created_by: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export type ChatLinkRow = Selectable<ChatLinkTable>;
export type NewChatLinkRow = Insertable<ChatLinkTable>;
