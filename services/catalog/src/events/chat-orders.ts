import { MessageReceived } from "@kontor/proto/messaging/v1/events";
import { sql, type Kysely } from "kysely";
import { once, type Outcome } from "@kontor/service-kit/nats";
import { InvalidInput, KontorError } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { Catalog } from "../domain/catalog.js";
import { OrderRefused, type ChatItem } from "../domain/order-batcher.js";
import { MAX_LINES, MAX_QUANTITY, type Order } from "../domain/order.js";
import type { CatalogDatabase } from "../store/database.js";
import { orderRejectedEvent, type ChatOrderRejection } from "./outbox.js";

export const CHAT_ORDERS_CONSUMER = "catalog-chat-orders";

/** A customer's order message (the Cloud API `order`) as messaging's message.received carries it. */
export interface ChatOrderMessage {
  messageId: string;
  businessId: string;
  customerId: string;
  catalogId: string;
  /** The business number the customer wrote to. */
  phoneNumberId: string;
  text: string;
  items: ChatItem[];
}

/**
 * Reads a message.received event; undefined for every message that is not
 * an order (most of them: acked at once). An order without its message,
 * business or customer is poison (the kit terminates it).
 */
export function decodeChatOrder(data: Uint8Array): ChatOrderMessage | undefined {
  const e = MessageReceived.decode(data);
  const content = e.message?.content?.kind;
  if (content?.$case !== "order") return undefined;
  const messageId = e.message?.id ?? "";
  const businessId = e.meta?.businessId ?? "";
  if (!messageId || !businessId || !e.customerId) throw new Error("order message without its message id, business or customer");
  return {
    messageId,
    businessId,
    customerId: e.customerId,
    catalogId: content.value.catalogId,
    phoneNumberId: e.phoneNumberId,
    text: content.value.text,
    items: content.value.items.map((i) => ({ retailerId: i.productRetailerId, quantity: i.quantity, itemPrice: i.itemPrice })),
  };
}

/**
 * What a final refusal tells the customer: the reason and the items it is
 * about. A refusal of the batch names its items (OrderRefused); a bad
 * quantity or too many products comes from the checks before the batch.
 */
export function rejectionOf(m: ChatOrderMessage, err: KontorError | "CATALOG_NOT_FOUND"): ChatOrderRejection {
  const base = { messageId: m.messageId, businessId: m.businessId, customerId: m.customerId, catalogId: m.catalogId.slice(0, 128), phoneNumberId: m.phoneNumberId };
  const whole = () => m.items.slice(0, MAX_LINES).map((i) => ({ retailerId: i.retailerId.slice(0, 100), name: "", quantity: i.quantity }));
  if (err === "CATALOG_NOT_FOUND") return { ...base, reason: err, items: whole(), detail: "catalog not found" };
  if (err instanceof OrderRefused) return { ...base, reason: err.reason, items: err.items.slice(0, MAX_LINES).map((i) => ({ ...i, retailerId: i.retailerId.slice(0, 100) })), detail: err.message };
  if (err instanceof InvalidInput) {
    const at = /^items\[(\d+)\]\.(\w+)/.exec(err.field);
    const item = at ? m.items[Number(at[1])] : undefined;
    if (item && at![2] === "quantity" && item.quantity > MAX_QUANTITY) {
      return { ...base, reason: "TOO_MANY_UNITS", items: [{ retailerId: item.retailerId.slice(0, 100), name: "", quantity: item.quantity, maxQuantity: MAX_QUANTITY }], detail: err.message };
    }
    if (err.field === "items" && m.items.length > MAX_LINES) return { ...base, reason: "TOO_MANY_PRODUCTS", items: [], detail: err.message };
    return { ...base, reason: "INVALID_ORDER", items: item ? [{ retailerId: item.retailerId.slice(0, 100), name: "", quantity: item.quantity }] : [], detail: err.message };
  }
  return { ...base, reason: err.reason, items: [], detail: err.message };
}

export interface ChatOrderPorts {
  getCatalog(id: string): Promise<Catalog>;
  createChatOrder(customerId: string, catalog: Catalog, text: string, items: ChatItem[], options: { messageId: string }): Promise<Order>;
  /** Whether the order message was refused already (a redelivery: it stays refused). */
  wasRejected(messageId: string): Promise<boolean>;
  /** Records the refusal and emits order.rejected in one transaction, once per message; "duplicate" when it was recorded already. */
  reject(r: ChatOrderRejection): Promise<Outcome>;
  /** Counts each outcome: placed, refused (out of stock, a product not in the catalog, …), foreign_catalog. */
  count(outcome: "placed" | "refused" | "foreign_catalog"): void;
  log: Logger;
}

/**
 * The record of refused order messages: the message id in the kit's
 * processed_events (consumer catalog-chat-orders) and the order.rejected
 * event in the outbox, in one transaction, so a redelivered event emits
 * nothing twice and is not placed after all.
 */
export function chatOrderRejections(db: Kysely<CatalogDatabase>, enqueue: (trx: Kysely<CatalogDatabase>, events: OutboxEvent[]) => Promise<void>): Pick<ChatOrderPorts, "wasRejected" | "reject"> {
  return {
    async wasRejected(messageId) {
      const { rows } = await sql<{ one: number }>`SELECT 1 AS one FROM processed_events WHERE consumer = ${CHAT_ORDERS_CONSUMER} AND event_id = ${messageId}`.execute(db);
      return rows.length > 0;
    },
    reject(r) {
      return once(db, CHAT_ORDERS_CONSUMER, r.messageId, (trx) => enqueue(trx, [orderRejectedEvent(r, new Date())]));
    },
  };
}

/**
 * The customer's order in the chat becomes the same order as a checkout
 * (the group commit of new orders), from messaging's message.received: no
 * call on messaging's send path. The order message's id is the order's
 * `source_message_id` (unique), so a redelivered event, or one two replicas
 * take at once, makes one order. The catalog must be the business's the
 * customer wrote to. A final refusal (out of stock, a product not in the
 * catalog, a price changed, another business's catalog) makes no order: it
 * is logged, counted, recorded and emitted as order.rejected (messaging
 * tells the customer why), once per message; a redelivered refused message
 * stays refused. A transient failure is retried.
 */
export function chatOrderHandler(ports: ChatOrderPorts) {
  return async (m: ChatOrderMessage | undefined): Promise<Outcome> => {
    if (!m) return "ack";
    const refuse = async (outcome: "refused" | "foreign_catalog", err: KontorError | "CATALOG_NOT_FOUND"): Promise<Outcome> => {
      const r = rejectionOf(m, err);
      const recorded = await ports.reject(r);
      if (recorded === "duplicate") return "duplicate";
      ports.count(outcome);
      ports.log.info({ message_id: m.messageId, business_id: m.businessId, catalog_id: r.catalogId, reason: r.reason, detail: r.detail }, "chat order not placed");
      return "ack";
    };
    if (await ports.wasRejected(m.messageId)) return "duplicate";
    let catalog: Catalog;
    try {
      catalog = await ports.getCatalog(m.catalogId);
    } catch (err) {
      if (err instanceof KontorError && err.kind !== "dependency_down" && err.kind !== "internal") return refuse("foreign_catalog", "CATALOG_NOT_FOUND");
      throw err;
    }
    // Another business's catalog: as unknown as a catalog that does not exist.
    if (catalog.businessId !== m.businessId) return refuse("foreign_catalog", "CATALOG_NOT_FOUND");
    try {
      const order = await ports.createChatOrder(m.customerId, catalog, m.text, m.items, { messageId: m.messageId });
      ports.count("placed");
      ports.log.info({ message_id: m.messageId, order_id: order.id }, "chat order placed");
      return "ack";
    } catch (err) {
      if (err instanceof KontorError && err.kind !== "dependency_down" && err.kind !== "internal" && err.kind !== "concurrent_update") return refuse("refused", err);
      throw err;
    }
  };
}
