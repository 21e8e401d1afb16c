import type { Selectable } from "kysely";

/** Whether a business number blocks a customer, and when that last changed (an unblock keeps the row). */
export interface UserBlockTable {
  phone_number_id: string;
  customer_id: string;
  business_id: string;
  blocked: boolean;
  changed_at: Date;
}

export type UserBlockRow = Selectable<UserBlockTable>;
