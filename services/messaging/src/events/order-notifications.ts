import { OrderPlaced, OrderRejected, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { Counter } from "prom-client";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import { createOrderNotifications, ORDER_NOTIFICATION_STATES, type OrderChange, type OrderNotificationPorts, type OrderNotificationState, type OrderRejection } from "../domain/order-notifications.js";
import type { MessagingDatabase } from "../store/database.js";
import { createOrderNotificationStore } from "../store/order-notification-store.js";

export const ORDER_NOTIFICATIONS_CONSUMER = "messaging-catalog-orders";

/** Catalog's order events (placed, paid, shipped, delivered, cancelled, refunded; rejected order messages), one filter (NATS 2.9 takes one per consumer). */
export const ORDER_EVENTS = "kontor.catalog.order.>";

const ok = (s: string) => s !== "" && s.length <= 128;

/** A rejected order message (order.rejected); undefined (terminated) when it names no message, customer or business. */
function decodeRejection(data: Uint8Array): OrderRejection | undefined {
  const e = OrderRejected.decode(data);
  const r: OrderRejection = {
    state: "rejected",
    eventId: e.meta?.eventId ?? "",
    messageId: e.messageId,
    businessId: e.meta?.businessId ?? "",
    customerId: e.customerId,
    phoneNumberId: e.phoneNumberId,
    reason: e.reason,
    items: e.items.map((i) => ({ retailerId: i.retailerId, name: i.name, quantity: i.quantity, available: i.available, price: i.price, maxQuantity: i.maxQuantity })),
  };
  return ok(r.eventId) && ok(r.messageId) && ok(r.businessId) && ok(r.customerId) ? r : undefined;
}

/**
 * An order event as the notification reads it; "skip" for an order event
 * that is no change of state (acked), undefined (terminated) when it names
 * no order, customer or business.
 */
export function decodeOrderEvent(data: Uint8Array, subject: string): OrderChange | OrderRejection | "skip" | undefined {
  const state = /\.order\.([a-z_]+)\.v1$/.exec(subject)?.[1] as OrderNotificationState | "rejected" | undefined;
  if (state === "rejected") return decodeRejection(data);
  if (!state || !ORDER_NOTIFICATION_STATES.includes(state)) return "skip";
  let change: OrderChange;
  if (state === "placed") {
    const e = OrderPlaced.decode(data);
    const o = e.order;
    change = {
      eventId: e.meta?.eventId ?? "",
      orderId: o?.id ?? "",
      businessId: e.meta?.businessId || o?.businessId || "",
      customerId: o?.customerId ?? "",
      state,
      tracking: undefined,
      total: o?.total,
      reason: "",
    };
  } else {
    const e = OrderStatusChanged.decode(data);
    change = { eventId: e.meta?.eventId ?? "", orderId: e.orderId, businessId: e.meta?.businessId ?? "", customerId: e.customerId, state, tracking: e.tracking, total: e.total, reason: e.reason };
  }
  if (!ok(change.eventId) || !ok(change.orderId) || !ok(change.businessId) || !ok(change.customerId)) return undefined;
  return change;
}

/**
 * Tells the customer of each order change (domain/order-notifications.ts):
 * one consumer the replicas share; each event is handled once
 * (processed_events), the notification's record in the same transaction,
 * and its send idempotent by client id, so a redelivery or a crash between
 * the send and the commit sends nothing twice. A rejected order message
 * (order.rejected) gets the reply saying why. Outcomes are counted in
 * kontor_messaging_order_notifications_total{outcome, detail, state}.
 */
export function registerOrderNotifications(rt: Runtime<MessagingDatabase>, ports: Pick<OrderNotificationPorts<unknown>, "send" | "isBlocked" | "numbersOf">) {
  const counter = new Counter({
    name: "kontor_messaging_order_notifications_total",
    help: "Order notifications to customers by outcome (sent, not_sent), detail (text or template when sent; the reason when not: blocked, outside_window_no_template, …) and state (placed, paid, shipped, delivered, cancelled, refunded; rejected: a refused order message)",
    labelNames: ["outcome", "detail", "state"] as const,
    registers: [rt.metrics.registry],
  });
  const notifications = createOrderNotifications({
    ...ports,
    store: createOrderNotificationStore(),
    count: (outcome, detail, state) => counter.inc({ outcome, detail, state }),
    log: rt.log,
  });
  rt.consume<OrderChange | OrderRejection | "skip" | undefined>({
    durable: ORDER_NOTIFICATIONS_CONSUMER,
    domain: "catalog",
    subject: ORDER_EVENTS,
    decode: decodeOrderEvent,
    async handle(change) {
      if (change === "skip") return "ack";
      if (!change) return "term";
      return once(rt.db, ORDER_NOTIFICATIONS_CONSUMER, change.eventId, async (trx) => {
        if (change.state === "rejected") await notifications.notifyRejected(change, trx);
        else await notifications.notify(change, trx);
      });
    },
  });
  return notifications;
}
