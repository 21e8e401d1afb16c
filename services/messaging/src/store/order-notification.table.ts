import type { Generated, Selectable } from "kysely";

/** What the customer was told of one change of an order (domain/order-notifications.ts). */
export interface OrderNotificationTable {
  order_id: string;
  state: string;
  business_id: string;
  customer_id: string;
  phone_number_id: string;
  /** sent | not_sent */
  outcome: string;
  /** text | template (sent only) */
  via: Generated<string>;
  message_id: Generated<string>;
  /** Why not sent (not_sent only). */
  reason: Generated<string>;
  event_id: string;
  created_at: Generated<Date>;
}

export type OrderNotificationRow = Selectable<OrderNotificationTable>;
