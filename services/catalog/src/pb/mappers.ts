import type { Catalog as CatalogPb, Order as OrderPb, Product as ProductPb, Tracking as TrackingPb, Address as AddressPb, Cart as CartPb } from "@kontor/proto/catalog/v1/catalog_service";
import { OrderState as OrderStatePb } from "@kontor/proto/catalog/v1/catalog_service";
import { availableUnits, effectivePriceMinor, type Product } from "../domain/product.js";
import type { Address, Order, OrderState, Tracking } from "../domain/order.js";
import type { Catalog } from "../domain/catalog.js";
import type { Cart } from "../domain/cart.js";

const money = (amountMinor: bigint, currency: string) => ({ amountMinor: amountMinor.toString(), currency });

export function productToPb(p: Product, now = new Date()): ProductPb {
  const available = availableUnits(p);
  return {
    id: p.id,
    businessId: p.businessId,
    retailerId: p.retailerId,
    name: p.name,
    description: p.description,
    price: money(p.price.amountMinor, p.price.currency),
    imageUrl: p.imageUrls[0] ?? "",
    visible: p.visible,
    createdAt: p.createdAt,
    catalogId: p.catalogId,
    imageUrls: p.imageUrls,
    salePrice: p.salePriceMinor === null ? undefined : money(p.salePriceMinor, p.price.currency),
    saleStartsAt: p.saleStartsAt ?? undefined,
    saleEndsAt: p.saleEndsAt ?? undefined,
    availability: p.availability,
    inventory: p.inventory === null ? undefined : p.inventory.toString(),
    available: available === null ? undefined : (available < 0n ? 0n : available).toString(),
    categories: p.categories,
    collections: p.collections,
    itemGroupId: p.itemGroupId,
    size: p.size,
    color: p.color,
    archived: p.archived,
    updatedAt: p.updatedAt,
    effectivePrice: money(effectivePriceMinor(p, now), p.price.currency),
  };
}

export function catalogToPb(c: Catalog): CatalogPb {
  return { id: c.id, businessId: c.businessId, name: c.name, isDefault: c.isDefault, createdAt: c.createdAt };
}

const STATE_TO_PB: Record<OrderState, OrderStatePb> = {
  PENDING_PAYMENT: OrderStatePb.ORDER_STATE_PENDING_PAYMENT,
  PAID: OrderStatePb.ORDER_STATE_PAID,
  SHIPPED: OrderStatePb.ORDER_STATE_SHIPPED,
  DELIVERED: OrderStatePb.ORDER_STATE_DELIVERED,
  CANCELLED: OrderStatePb.ORDER_STATE_CANCELLED,
  REFUNDED: OrderStatePb.ORDER_STATE_REFUNDED,
};

export function stateToPb(s: OrderState): OrderStatePb {
  return STATE_TO_PB[s];
}

export function stateFromPb(s: OrderStatePb): OrderState | undefined {
  return (Object.keys(STATE_TO_PB) as OrderState[]).find((k) => STATE_TO_PB[k] === s);
}

export function trackingToPb(t: Tracking | null): TrackingPb | undefined {
  return t ?? undefined;
}

function addressToPb(a: Address | null): AddressPb | undefined {
  return a ?? undefined;
}

export function orderToPb(o: Order): OrderPb {
  return {
    id: o.id,
    businessId: o.businessId,
    customerId: o.customerId,
    catalogId: o.catalogId,
    state: stateToPb(o.state),
    items: o.lines.map((l) => ({
      productId: l.productId,
      productRetailerId: l.retailerId,
      name: l.name,
      quantity: l.quantity,
      unitPrice: money(l.unitPriceMinor, o.currency),
      lineTotal: money(l.lineTotalMinor, o.currency),
    })),
    subtotal: money(o.subtotalMinor, o.currency),
    total: money(o.totalMinor, o.currency),
    note: o.note,
    deliveryAddress: addressToPb(o.deliveryAddress),
    tracking: trackingToPb(o.tracking),
    reservedUntil: o.reservedUntil ?? undefined,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    source: o.source,
  };
}

export function cartToPb(c: Cart): CartPb {
  return {
    id: c.id,
    businessId: c.businessId,
    customerId: c.customerId,
    catalogId: c.catalogId,
    items: c.items.map((i) => ({
      productId: i.productId,
      productRetailerId: i.retailerId,
      name: i.name,
      quantity: i.quantity,
      unitPrice: money(i.unitPriceMinor, c.currency),
      lineTotal: money(i.lineTotalMinor, c.currency),
      purchasable: i.purchasable,
    })),
    subtotal: money(c.subtotalMinor, c.currency),
    updatedAt: c.updatedAt,
  };
}
