import type { Generated, Selectable } from "kysely";

/** A customer's privacy settings; no row means both off. */
export interface CustomerPrivacyTable {
  customer_id: string;
  ad_personalization: Generated<boolean>;
  data_sharing_opt_out: Generated<boolean>;
  updated_at: Date;
  updated_by: string;
}

export type CustomerPrivacyRow = Selectable<CustomerPrivacyTable>;
