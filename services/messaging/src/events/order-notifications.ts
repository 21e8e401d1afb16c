import { OrderPlaced, OrderStatusChanged } from "@kontor/proto/catalog/v1/events";
import { Counter } from "prom-client";
import { once } from "@kontor/service-kit/nats";
import type { Runtime } from "@kontor/service-kit/runtime";
import { createOrderNotifications, ORDER_NOTIFICATION_STATES, type OrderChange, type OrderNotificationPorts, type OrderNotificationState } from "../domain/order-notifications.js";
import type { MessagingDatabase } from "../store/database.js";
import { createOrderNotificationStore } from "../store/order-notification-store.js";

export const ORDER_NOTIFICATIONS_CONSUMER = "messaging-catalog-orders";

/** Catalog's order events (placed, paid, shipped, delivered, cancelled, refunded), one filter (NATS 2.9 takes one per consumer). */
export const ORDER_EVENTS = "kontor.catalog.order.>";

/**
 * An order event as the notification reads it; "skip" for an order event
 * that is no change of state (acked), undefined (terminated) when it names
 * no order, customer or business.
 */
export function decodeOrderEvent(data: Uint8Array, subject: string): OrderChange | "skip" | undefined {
  const state = /\.order\.([a-z_]+)\.v1$/.exec(subject)?.[1] as OrderNotificationState | undefined;
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
  const ok = (s: string) => s !== "" && s.length <= 128;
  if (!ok(change.eventId) || !ok(change.orderId) || !ok(change.businessId) || !ok(change.customerId)) return undefined;
  return change;
}

/**
 * Tells the customer of each order change (domain/order-notifications.ts):
 * one consumer the replicas share; each event is handled once
 * (processed_events), the notification's record in the same transaction,
 * and its send idempotent by client id, so a redelivery or a crash between
 * the send and the commit sends nothing twice. Outcomes are counted in
 * kontor_messaging_order_notifications_total{outcome, detail}.
 */
export function registerOrderNotifications(rt: Runtime<MessagingDatabase>, ports: Pick<OrderNotificationPorts<unknown>, "send" | "isBlocked" | "numbersOf">) {
  const counter = new Counter({
    name: "kontor_messaging_order_notifications_total",
    help: "Order notifications to customers by outcome (sent, not_sent) and detail (text or template when sent; the reason when not: blocked, outside_window_no_template, …)",
    labelNames: ["outcome", "detail"] as const,
    registers: [rt.metrics.registry],
  });
  const notifications = createOrderNotifications({
    ...ports,
    store: createOrderNotificationStore(),
    count: (outcome, detail) => counter.inc({ outcome, detail }),
    log: rt.log,
  });
  rt.consume<OrderChange | "skip" | undefined>({
    durable: ORDER_NOTIFICATIONS_CONSUMER,
    domain: "catalog",
    subject: ORDER_EVENTS,
    decode: decodeOrderEvent,
    async handle(change) {
      if (change === "skip") return "ack";
      if (!change) return "term";
      return once(rt.db, ORDER_NOTIFICATIONS_CONSUMER, change.eventId, async (trx) => {
        await notifications.notify(change, trx);
      });
    },
  });
  return notifications;
}
