import type { ColumnType, Selectable } from "kysely";

/** A customer erased by messaging: when, and how many follows directory removed. */
export interface CustomerErasureTable {
  customer_id: string;
  erased_at: Date;
  follows_removed: number;
  recorded_at: ColumnType<Date, Date | undefined, never>;
}

export type CustomerErasureRow = Selectable<CustomerErasureTable>;
