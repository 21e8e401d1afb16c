import { ProductArchived, ProductCreated, ProductUpserted, OrderPlaced, OrderRejected, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import { effectivePriceMinor, type Product } from "../domain/product.js";
import type { Order, OrderState, RefusedItem } from "../domain/order.js";
import { orderToPb, stateToPb, trackingToPb } from "../pb/mappers.js";
import { subjects } from "./subjects.js";

const money = (amountMinor: bigint, currency: string) => ({ amountMinor: amountMinor.toString(), currency });

export function productCreatedEvent(product: Product): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.productCreated,
    payload: ProductCreated.encode({
      meta: { eventId, occurredAt: new Date(), businessId: product.businessId },
      productId: product.id,
      retailerId: product.retailerId,
      name: product.name,
      price: money(product.price.amountMinor, product.price.currency),
    }).finish(),
  };
}

/** Event id `<product id>:v<version>`: one per version, so a re-published row is dropped by the stream. */
export function productUpsertedEvent(product: Product, now: Date): OutboxEvent {
  const eventId = `${product.id}:v${product.version}`;
  return {
    eventId,
    subject: subjects.productUpserted,
    payload: ProductUpserted.encode({
      meta: { eventId, occurredAt: now, businessId: product.businessId },
      catalogId: product.catalogId,
      productId: product.id,
      retailerId: product.retailerId,
      name: product.name,
      price: money(product.price.amountMinor, product.price.currency),
      effectivePrice: money(effectivePriceMinor(product, now), product.price.currency),
      availability: product.availability,
      visible: product.visible,
      imageUrl: product.imageUrls[0] ?? "",
      itemGroupId: product.itemGroupId,
      version: product.version.toString(),
    }).finish(),
  };
}

export function productArchivedEvent(product: Product, now: Date): OutboxEvent {
  const eventId = `${product.id}:v${product.version}`;
  return {
    eventId,
    subject: subjects.productArchived,
    payload: ProductArchived.encode({
      meta: { eventId, occurredAt: now, businessId: product.businessId },
      catalogId: product.catalogId,
      productId: product.id,
      retailerId: product.retailerId,
      version: product.version.toString(),
    }).finish(),
  };
}

export function orderPlacedEvent(order: Order): OutboxEvent {
  const eventId = `${order.id}:placed`;
  return {
    eventId,
    subject: subjects.orderPlaced,
    payload: OrderPlaced.encode({ meta: { eventId, occurredAt: order.createdAt, businessId: order.businessId }, order: orderToPb(order) }).finish(),
  };
}

const STATE_SUBJECTS: Partial<Record<OrderState, string>> = {
  PAID: subjects.orderPaid,
  SHIPPED: subjects.orderShipped,
  DELIVERED: subjects.orderDelivered,
  CANCELLED: subjects.orderCancelled,
  REFUNDED: subjects.orderRefunded,
};

/** Event id `<order id>:<state>`: an order enters each state at most once. */
export function orderStatusEvent(order: Order, previous: OrderState, reason: string): OutboxEvent {
  const eventId = `${order.id}:${order.state.toLowerCase()}`;
  return {
    eventId,
    subject: STATE_SUBJECTS[order.state]!,
    payload: OrderStatusChanged.encode({
      meta: { eventId, occurredAt: order.updatedAt, businessId: order.businessId },
      orderId: order.id,
      customerId: order.customerId,
      state: stateToPb(order.state),
      previousState: stateToPb(previous),
      tracking: trackingToPb(order.tracking),
      total: money(order.totalMinor, order.currency),
      reason,
    }).finish(),
  };
}

/** A customer's order message catalog refused for good (events/chat-orders.ts). */
export interface ChatOrderRejection {
  messageId: string;
  businessId: string;
  customerId: string;
  catalogId: string;
  phoneNumberId: string;
  reason: string;
  items: (RefusedItem & { maxQuantity?: number })[];
  detail: string;
}

/** Event id `<message id>:rejected`: one per order message. */
export function orderRejectedEvent(r: ChatOrderRejection, now: Date): OutboxEvent {
  const eventId = `${r.messageId}:rejected`;
  return {
    eventId,
    subject: subjects.orderRejected,
    payload: OrderRejected.encode({
      meta: { eventId, occurredAt: now, businessId: r.businessId },
      messageId: r.messageId,
      customerId: r.customerId,
      catalogId: r.catalogId,
      phoneNumberId: r.phoneNumberId,
      reason: r.reason,
      items: r.items.map((i) => ({
        retailerId: i.retailerId,
        name: i.name,
        quantity: i.quantity,
        available: i.available?.toString(),
        price: i.price ? money(i.price.amountMinor, i.price.currency) : undefined,
        maxQuantity: i.maxQuantity ?? 0,
      })),
      detail: r.detail,
    }).finish(),
  };
}
