import type { Generated, Selectable } from "kysely";

export interface CustomerTable {
  id: string;
  /** NULL once the customer is erased (the number is free again). */
  e164: string | null;
  profile_name: Generated<string>;
  read_receipts: Generated<boolean>;
  locale: Generated<string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Set by EraseCustomerData; an erased customer is never found or registered again. */
  erased_at: Generated<Date | null>;
}

export type CustomerRow = Selectable<CustomerTable>;
