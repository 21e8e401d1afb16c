import type { OrderLineRow, OrderRow } from "../store/commerce.table.js";
import type { Address, Order, OrderState, Tracking } from "./order.js";

export function orderFromRows(row: OrderRow, lines: OrderLineRow[]): Order {
  return {
    id: row.id,
    businessId: row.business_id,
    customerId: row.customer_id,
    catalogId: row.catalog_id,
    state: row.state as OrderState,
    currency: row.currency.trim(),
    lines: lines.map((l) => ({
      productId: l.product_id,
      retailerId: l.retailer_id,
      name: l.name,
      quantity: l.quantity,
      unitPriceMinor: BigInt(l.unit_price_minor),
      lineTotalMinor: BigInt(l.line_total_minor),
    })),
    subtotalMinor: BigInt(row.subtotal_minor),
    totalMinor: BigInt(row.total_minor),
    note: row.note,
    deliveryAddress: (row.delivery_address as Address | null) ?? null,
    tracking: (row.tracking as Tracking | null) ?? null,
    source: row.source as "cart" | "chat",
    reservedUntil: row.reserved_until,
    paidAt: row.paid_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
