import type { ColumnType, Selectable } from "kysely";

export interface FollowTable {
  business_id: string;
  customer_id: string;
  followed_at: ColumnType<Date, Date | undefined, never>;
}

export type FollowRow = Selectable<FollowTable>;
