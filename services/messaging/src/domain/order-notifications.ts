import type { Content } from "@kontor/proto/messaging/v1/message";
import type { SendMessageRequest } from "@kontor/proto/messaging/v1/messaging_service";
import { KontorError } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import { REASONS } from "./policy/refusals.js";

/*
 * The customer is told of each change of an order (catalog's
 * kontor.catalog.order.<state>.v1): an automated message from the business,
 * through the send path like any other, so every policy rule applies.
 * Inside the customer service window it is free-form text; outside it the
 * business's approved UTILITY template `order_update` (body: the order
 * reference, the status text); without one nothing is sent and the reason is
 * recorded and counted. A blocked customer gets nothing.
 *
 * Exactly once per (order, state): the send's client id is
 * `order:<order id>:<state>`, so the message id is derived from it and a
 * second send (a redelivered event, a crash between the send and the
 * consumer's commit, on any replica) answers the stored original; the text
 * and the template attempt share that id, so at most one of them is ever
 * stored. The outcome is recorded in the consumer's transaction.
 *
 * A customer's order message catalog refused (kontor.catalog.order.rejected.v1)
 * is answered the same way, as a reply to that message saying why ("Sorry,
 * we could not take your order: Blue mug is out of stock (2 left)."), once
 * per order message (client id `order-rejected:<message id>`). The customer
 * wrote the order just now, so the window is open; outside it nothing is
 * sent (no template says this).
 */

export type OrderNotificationState = "placed" | "paid" | "shipped" | "delivered" | "cancelled" | "refunded";

export const ORDER_NOTIFICATION_STATES: readonly OrderNotificationState[] = ["placed", "paid", "shipped", "delivered", "cancelled", "refunded"];

/** The template a business approves for order updates outside the window: UTILITY, body {{1}} order reference, {{2}} status text. */
export const ORDER_UPDATE_TEMPLATE = "order_update";

/** `biz_opaque_callback_data` of the notifications: marks them as automated (like `auto:greeting`). */
export const ORDER_CALLBACK_DATA = "auto:order";

/** One change of an order, as catalog's events state it. */
export interface OrderChange {
  eventId: string;
  orderId: string;
  businessId: string;
  customerId: string;
  state: OrderNotificationState;
  tracking: { carrier: string; number: string; url: string } | undefined;
  total: { amountMinor: string; currency: string } | undefined;
  /** Why, when catalog says ("expired", "payment_failed", a note). */
  reason: string;
}

/** A customer's order message catalog refused, as catalog's order.rejected states it. */
export interface OrderRejection {
  state: "rejected";
  eventId: string;
  /** The customer's order message: the reply quotes it. */
  messageId: string;
  businessId: string;
  customerId: string;
  /** The business number the customer wrote to ("" when catalog does not say). */
  phoneNumberId: string;
  /** OUT_OF_STOCK, PRODUCT_UNAVAILABLE, PRODUCT_NOT_IN_CATALOG, CURRENCY_MISMATCH, PRICE_CHANGED, CATALOG_NOT_FOUND, TOO_MANY_UNITS, … */
  reason: string;
  items: RejectedItem[];
}

export interface RejectedItem {
  retailerId: string;
  /** "" when catalog does not know it. */
  name: string;
  quantity: number;
  /** Units left (OUT_OF_STOCK). */
  available: string | undefined;
  /** Today's price (PRICE_CHANGED, CURRENCY_MISMATCH). */
  price: { amountMinor: string; currency: string } | undefined;
  /** Most units per order (TOO_MANY_UNITS); 0 when not said. */
  maxQuantity: number;
}

/** What a notification's record is keyed by: an order and its state, or an order message and `rejected`. */
export interface NotificationKey {
  eventId: string;
  /** The order, or the refused order message's id (state `rejected`: no order was made). */
  orderId: string;
  businessId: string;
  customerId: string;
  state: OrderNotificationState | "rejected";
}

export type NotificationOutcome =
  | { outcome: "sent"; via: "text" | "template"; messageId: string; phoneNumberId: string; duplicate: boolean }
  | { outcome: "not_sent"; reason: NotSentReason; phoneNumberId: string };

/** Why a notification was not sent (a fixed set: the metric's label). */
export type NotSentReason =
  | "blocked"
  | "no_business_number"
  | "outside_window_no_template"
  | "recipient_not_found"
  | "messaging_limit"
  | "outside_window"
  | "refused";

/** The order reference a customer reads: `#` and the order id's first 8 characters, upper case. */
export function orderReference(orderId: string): string {
  return `#${orderId.replace(/-/g, "").slice(0, 8).toUpperCase()}`;
}

/** Minor units as a decimal amount with the currency (`1250 EUR` → `12.50 EUR`, `500 JPY` → `500 JPY`); no floats. */
export function formatMoney(amountMinor: string, currency: string): string {
  let digits = 2;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    digits = 2; // not a currency this runtime knows
  }
  const negative = amountMinor.startsWith("-");
  const abs = (negative ? amountMinor.slice(1) : amountMinor).replace(/^0+(?=\d)/, "") || "0";
  if (digits === 0) return `${negative ? "-" : ""}${abs} ${currency}`;
  const padded = abs.padStart(digits + 1, "0");
  return `${negative ? "-" : ""}${padded.slice(0, -digits)}.${padded.slice(-digits)} ${currency}`;
}

function trackingText(t: OrderChange["tracking"]): string {
  if (!t) return "";
  const parts = [t.carrier, t.number].filter((p) => p.trim() !== "").join(" ");
  const all = [parts, t.url].filter((p) => p.trim() !== "").join(", ");
  return all ? `Tracking: ${all}` : "";
}

/** The status text (the template's second parameter; the body of the free-form message after the reference). */
export function statusText(c: OrderChange): string {
  switch (c.state) {
    case "placed":
      return c.total ? `has been received (total ${formatMoney(c.total.amountMinor, c.total.currency)})` : "has been received";
    case "paid":
      return "is paid";
    case "shipped": {
      const tracking = trackingText(c.tracking);
      return tracking ? `has shipped. ${tracking}` : "has shipped";
    }
    case "delivered":
      return "has been delivered";
    case "cancelled":
      return c.reason === "expired" ? "was cancelled: it was not paid in time" : c.reason === "payment_failed" ? "was cancelled: the payment failed" : "was cancelled";
    case "refunded":
      return "was refunded";
  }
}

/** The free-form message inside the window: "Your order #3F2A9C1B has shipped. Tracking: DHL 123, https://…" (no full stop after a tracking link). */
export function notificationText(c: OrderChange): string {
  const status = statusText(c);
  const end = /[.!?]$/.test(status) || status.includes("Tracking: ") ? "" : ".";
  return `Your order ${orderReference(c.orderId)} ${status}${end}`;
}

const MAX_NAMED = 10;

/** How the customer knows a product: its name, else its retailer id. */
function label(i: RejectedItem): string {
  const name = i.name.trim() || i.retailerId.trim();
  return name.length > 100 ? `${name.slice(0, 99)}…` : name;
}

/** "A", "A and B", "A, B and C"; past ten, "and N more". */
function list(parts: string[]): string {
  const shown = parts.length > MAX_NAMED ? [...parts.slice(0, MAX_NAMED), `${parts.length - MAX_NAMED} more`] : parts;
  return shown.length <= 1 ? (shown[0] ?? "") : `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

/** Why, after "Sorry, we could not take your order: " (no full stop). */
export function rejectionReasonText(r: Pick<OrderRejection, "reason" | "items">): string {
  const each = (f: (i: RejectedItem) => string) => list(r.items.map(f));
  const some = r.items.length > 0;
  switch (r.reason) {
    case "OUT_OF_STOCK":
      if (some) return each((i) => (i.available !== undefined && i.available !== "0" ? `${label(i)} is out of stock (${i.available} left)` : `${label(i)} is out of stock`));
      return "some products are out of stock";
    case "PRODUCT_UNAVAILABLE":
      return some ? each((i) => `${label(i)} is no longer available`) : "some products are no longer available";
    case "PRODUCT_NOT_IN_CATALOG":
      return some ? each((i) => `${label(i)} is not in this shop's catalog`) : "some products are not in this shop's catalog";
    case "CATALOG_NOT_FOUND":
      return "it comes from a catalog that is not this shop's";
    case "CURRENCY_MISMATCH":
      return some && r.items.every((i) => i.price) ? each((i) => `${label(i)} is priced in ${i.price!.currency}`) : "its products are priced in different currencies";
    case "PRICE_CHANGED":
      return some ? each((i) => (i.price ? `the price of ${label(i)} is now ${formatMoney(i.price.amountMinor, i.price.currency)}` : `the price of ${label(i)} has changed`)) : "prices have changed";
    case "TOO_MANY_UNITS":
      return some ? each((i) => (i.maxQuantity > 0 ? `we take at most ${i.maxQuantity} of ${label(i)} per order` : `${i.quantity} of ${label(i)} is more than we take in one order`)) : "it asks for more units than we take in one order";
    case "TOO_MANY_PRODUCTS":
      return "it holds more products than one order may";
    case "TOTAL_TOO_LARGE":
      return "its total is too large";
    default:
      return "it could not be read; please send it again from the catalog";
  }
}

/** The reply to a refused order message: "Sorry, we could not take your order: Blue mug is out of stock (2 left)." */
export function rejectionText(r: Pick<OrderRejection, "reason" | "items">): string {
  return `Sorry, we could not take your order: ${rejectionReasonText(r)}.`;
}

export const rejectionClientIdOf = (r: Pick<OrderRejection, "messageId">) => `order-rejected:${r.messageId}`;

/** The record's key of a rejection: the order message's id stands for the order that was not made. */
export const rejectionKey = (r: OrderRejection): NotificationKey => ({ eventId: r.eventId, orderId: r.messageId, businessId: r.businessId, customerId: r.customerId, state: "rejected" });

export const clientIdOf = (c: Pick<OrderChange, "orderId" | "state">) => `order:${c.orderId}:${c.state}`;

/** The store; `T` is the consumer's transaction. */
export interface OrderNotificationStore<T = unknown> {
  /** The business number of the customer's latest conversation with the business, if any. */
  latestNumber(businessId: string, customerId: string, trx: T): Promise<string | undefined>;
  /** The language of the business's approved UTILITY `order_update` template (English first), if any. */
  orderUpdateLanguage(businessId: string, trx: T): Promise<string | undefined>;
  record(c: NotificationKey, o: NotificationOutcome, trx: T): Promise<void>;
}

export interface OrderNotificationPorts<T> {
  store: OrderNotificationStore<T>;
  /** The send path, as the business number. */
  send(req: SendMessageRequest, phoneNumberId: string): Promise<{ messageId: string; stored: { duplicate: boolean } }>;
  /** Whether the customer blocks the business (the send path refuses it too). */
  isBlocked(customerId: string, businessId: string): boolean;
  /** The business's active numbers, when it has no conversation with the customer. */
  numbersOf(businessId: string): string[];
  /** Counts each outcome (the metric), by the state told (placed … refunded, rejected). */
  count(outcome: "sent" | "not_sent", detail: string, state: NotificationKey["state"]): void;
  log: Logger;
}

const reasonOf = (err: unknown) => (err instanceof KontorError ? err.reason : "");

function request(phoneNumberId: string, c: NotificationKey, content: Content, clientMessageId: string, replyTo?: string): SendMessageRequest {
  return {
    sender: { kind: { $case: "phoneNumberId", value: phoneNumberId } },
    recipient: { kind: { $case: "customerId", value: c.customerId } },
    to: "",
    clientMessageId,
    content,
    context: replyTo ? { messageId: replyTo } : undefined,
    bizOpaqueCallbackData: `${ORDER_CALLBACK_DATA}:${c.state}`,
    referral: undefined,
  };
}

function templateContent(c: OrderChange, language: string): Content {
  const text = (t: string) => ({ type: "text", parameterName: "", text: t, currency: undefined, dateTime: "", media: undefined, location: undefined, payload: "", couponCode: "" });
  return {
    kind: {
      $case: "template",
      value: { name: ORDER_UPDATE_TEMPLATE, languageCode: language, rendered: undefined, components: [{ type: "body", subType: "", index: 0, parameters: [text(orderReference(c.orderId)), text(statusText(c))] }] },
    },
  };
}

/**
 * Refusals that pass with time (a rate, the queue, the store): the event is
 * retried later (the send path answers a retry of a stored send with the
 * original, so a retry never doubles).
 */
function transient(err: unknown): boolean {
  if (!(err instanceof KontorError)) return true;
  return (err.kind === "over_limit" && err.reason !== REASONS.messagingLimit) || err.kind === "dependency_down" || err.kind === "internal" || err.kind === "concurrent_update";
}

export function createOrderNotifications<T>(ports: OrderNotificationPorts<T>) {
  const { store, log } = ports;

  async function finish(c: NotificationKey, o: NotificationOutcome, trx: T): Promise<NotificationOutcome> {
    await store.record(c, o, trx);
    if (o.outcome === "sent") {
      ports.count("sent", o.via, c.state);
    } else {
      ports.count("not_sent", o.reason, c.state);
      log.info({ order_id: c.orderId, state: c.state, business_id: c.businessId, reason: o.reason }, "order notification not sent");
    }
    return o;
  }

  async function trySend(phoneNumberId: string, c: OrderChange, content: Content, via: "text" | "template"): Promise<NotificationOutcome> {
    const r = await ports.send(request(phoneNumberId, c, content, clientIdOf(c)), phoneNumberId);
    return { outcome: "sent", via, messageId: r.messageId, phoneNumberId, duplicate: r.stored.duplicate };
  }

  /** A refusal of the send path: thrown again when it passes with time, else the reason recorded. */
  function refused(c: NotificationKey, number: string, trx: T, err: unknown, via: string): Promise<NotificationOutcome> {
    if (transient(err)) throw err;
    const reason = reasonOf(err);
    log.warn({ order_id: c.orderId, state: c.state, via, refusal: reason, err: { message: (err as Error).message } }, "order notification refused by the send path");
    const notSent = (why: NotSentReason) => finish(c, { outcome: "not_sent", reason: why, phoneNumberId: number }, trx);
    if (reason === "RECIPIENT_NOT_FOUND") return notSent("recipient_not_found");
    // The business's number blocks the customer (block_users).
    if (reason === "USER_BLOCKED") return notSent("blocked");
    if (reason === REASONS.messagingLimit) return notSent("messaging_limit");
    if (reason === REASONS.outsideWindow) return notSent("outside_window");
    return notSent("refused");
  }

  return {
    /**
     * One order change, inside the consumer's transaction `trx` that marks
     * its event handled. Throws on a transient failure (the event is retried).
     */
    async notify(c: OrderChange, trx: T): Promise<NotificationOutcome> {
      const number = (await store.latestNumber(c.businessId, c.customerId, trx)) ?? ports.numbersOf(c.businessId)[0];
      if (!number) return finish(c, { outcome: "not_sent", reason: "no_business_number", phoneNumberId: "" }, trx);
      if (ports.isBlocked(c.customerId, c.businessId)) return finish(c, { outcome: "not_sent", reason: "blocked", phoneNumberId: number }, trx);
      const notSent = (reason: NotSentReason) => finish(c, { outcome: "not_sent", reason, phoneNumberId: number }, trx);
      const refusal = (err: unknown, via: string): Promise<NotificationOutcome> => refused(c, number, trx, err, via);
      try {
        return await finish(c, await trySend(number, c, { kind: { $case: "text", value: { body: notificationText(c), previewUrl: false } } }, "text"), trx);
      } catch (err) {
        if (reasonOf(err) !== REASONS.outsideWindow) return refusal(err, "text");
      }
      // Outside the customer service window: only the business's approved utility template may go.
      const language = await store.orderUpdateLanguage(c.businessId, trx);
      if (!language) return notSent("outside_window_no_template");
      try {
        return await finish(c, await trySend(number, c, templateContent(c, language), "template"), trx);
      } catch (err) {
        return refusal(err, "template");
      }
    },

    /**
     * A refused order message, inside the consumer's transaction: the reply
     * to it saying why, as text from the number the customer wrote to.
     * Throws on a transient failure (the event is retried).
     */
    async notifyRejected(r: OrderRejection, trx: T): Promise<NotificationOutcome> {
      const key = rejectionKey(r);
      const numbers = ports.numbersOf(r.businessId);
      const number = numbers.includes(r.phoneNumberId) ? r.phoneNumberId : ((await store.latestNumber(r.businessId, r.customerId, trx)) ?? numbers[0]);
      if (!number) return finish(key, { outcome: "not_sent", reason: "no_business_number", phoneNumberId: "" }, trx);
      if (ports.isBlocked(r.customerId, r.businessId)) return finish(key, { outcome: "not_sent", reason: "blocked", phoneNumberId: number }, trx);
      try {
        const content: Content = { kind: { $case: "text", value: { body: rejectionText(r), previewUrl: false } } };
        const sent = await ports.send(request(number, key, content, rejectionClientIdOf(r), r.messageId), number);
        return await finish(key, { outcome: "sent", via: "text", messageId: sent.messageId, phoneNumberId: number, duplicate: sent.stored.duplicate }, trx);
      } catch (err) {
        return refused(key, number, trx, err, "text");
      }
    },
  };
}

export type OrderNotifications<T = unknown> = ReturnType<typeof createOrderNotifications<T>>;
