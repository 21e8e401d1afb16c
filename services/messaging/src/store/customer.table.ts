import type { Generated, Selectable } from "kysely";

export interface CustomerTable {
  id: string;
  e164: string;
  profile_name: Generated<string>;
  read_receipts: Generated<boolean>;
  locale: Generated<string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type CustomerRow = Selectable<CustomerTable>;
