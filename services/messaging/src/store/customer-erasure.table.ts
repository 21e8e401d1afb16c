import type { Selectable } from "kysely";

/** The audit of EraseCustomerData: one row per erased customer, who asked, why, how many bodies it removed, when. */
export interface CustomerErasureTable {
  customer_id: string;
  /** The principal that asked ("customer:<id>", "staff:<id>"). */
  erased_by: string;
  /** Empty when the customer asked without giving one. */
  reason: string;
  erased_messages: string;
  erased_at: Date;
}

export type CustomerErasureRow = Selectable<CustomerErasureTable>;
