import type { Generated, Selectable } from "kysely";

export interface CatalogTable {
  id: string;
  business_id: string;
  name: string;
  is_default: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface ProductWordTable {
  catalog_id: string;
  word: string;
}

export interface CartTable {
  id: string;
  business_id: string;
  customer_id: string;
  catalog_id: string;
  currency: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Raised by every write: a cart change writes only over the version it read. */
  version: Generated<string>;
}

export interface CartItemTable {
  cart_id: string;
  product_id: string;
  quantity: number;
  added_at: Generated<Date>;
}

export interface OrderTable {
  id: string;
  business_id: string;
  customer_id: string;
  catalog_id: string;
  state: string;
  currency: string;
  subtotal_minor: string;
  total_minor: string;
  note: Generated<string>;
  delivery_address: unknown;
  tracking: unknown;
  source: string;
  /** The customer's order message in the chat (messaging's message id) the order was made from; unique. */
  source_message_id: Generated<string | null>;
  reserved_until: Date | null;
  paid_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface OrderLineTable {
  order_id: string;
  line: number;
  product_id: string;
  retailer_id: string;
  name: string;
  quantity: number;
  unit_price_minor: string;
  line_total_minor: string;
}

export interface ReservationTable {
  order_id: string;
  product_id: string;
  quantity: string;
}

export interface OrderChangeTable {
  id: Generated<string>;
  order_id: string;
  from_state: string | null;
  to_state: string;
  actor: string;
  reason: Generated<string>;
  at: Generated<Date>;
}

export type CatalogRow = Selectable<CatalogTable>;
export type CartRow = Selectable<CartTable>;
export type OrderRow = Selectable<OrderTable>;
export type OrderLineRow = Selectable<OrderLineTable>;

/** Kept by a trigger on product (migration 2026_12_05_120000_product_search). */
export interface ProductSearchTable {
  id: string;
  catalog_id: string;
  visible: boolean;
  archived: boolean;
  doc: string;
  /** Insertion order (an update keeps it): bounds a query's later pages. */
  seq: Generated<string>;
}

/** A payment whose amount was not the order's total (the order stayed unpaid). */
export interface PaymentMismatchTable {
  event_id: string;
  order_id: string;
  payment_id: string;
  paid_minor: string | null;
  paid_currency: string;
  total_minor: string;
  currency: string;
  /** AMOUNT (not the total) or ORDER_NOT_PAYABLE (the order was no longer unpaid). */
  reason: Generated<string>;
  /** The order's state when the payment arrived. */
  order_state: Generated<string>;
  at: Generated<Date>;
}
