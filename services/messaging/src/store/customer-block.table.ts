import type { Selectable } from "kysely";

/** Whether a customer blocks a business, and when that last changed (an unblock keeps the row). */
export interface CustomerBlockTable {
  customer_id: string;
  business_id: string;
  blocked: boolean;
  changed_at: Date;
}

export type CustomerBlockRow = Selectable<CustomerBlockTable>;
