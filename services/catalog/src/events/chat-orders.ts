import { MessageReceived } from "@kontor/proto/messaging/v1/events";
import type { Outcome } from "@kontor/service-kit/nats";
import { KontorError } from "@kontor/service-kit/errors";
import type { Logger } from "@kontor/service-kit/log";
import type { Catalog } from "../domain/catalog.js";
import type { ChatItem } from "../domain/order-batcher.js";
import type { Order } from "../domain/order.js";

export const CHAT_ORDERS_CONSUMER = "catalog-chat-orders";

/** A customer's order message (the Cloud API `order`) as messaging's message.received carries it. */
export interface ChatOrderMessage {
  messageId: string;
  businessId: string;
  customerId: string;
  catalogId: string;
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
    text: content.value.text,
    items: content.value.items.map((i) => ({ retailerId: i.productRetailerId, quantity: i.quantity, itemPrice: i.itemPrice })),
  };
}

export interface ChatOrderPorts {
  getCatalog(id: string): Promise<Catalog>;
  createChatOrder(customerId: string, catalog: Catalog, text: string, items: ChatItem[], options: { messageId: string }): Promise<Order>;
  /** Counts each outcome: placed, refused (out of stock, a product not in the catalog, …), foreign_catalog. */
  count(outcome: "placed" | "refused" | "foreign_catalog"): void;
  log: Logger;
}

/**
 * The customer's order in the chat becomes the same order as a checkout
 * (the group commit of new orders), from messaging's message.received: no
 * call on messaging's send path. The order message's id is the order's
 * `source_message_id` (unique), so a redelivered event, or one two replicas
 * take at once, makes one order. The catalog must be the business's the
 * customer wrote to; a refusal (out of stock, a product not in the catalog,
 * a price changed) is logged, counted and acked: the customer's message
 * stays as sent and no order is made. A transient failure is retried.
 */
export function chatOrderHandler(ports: ChatOrderPorts) {
  return async (m: ChatOrderMessage | undefined): Promise<Outcome> => {
    if (!m) return "ack";
    const refuse = (outcome: "refused" | "foreign_catalog", reason: string, detail: string): Outcome => {
      ports.count(outcome);
      ports.log.info({ message_id: m.messageId, business_id: m.businessId, catalog_id: m.catalogId.slice(0, 128), reason, detail }, "chat order not placed");
      return "ack";
    };
    let catalog: Catalog;
    try {
      catalog = await ports.getCatalog(m.catalogId);
    } catch (err) {
      if (err instanceof KontorError && err.kind !== "dependency_down" && err.kind !== "internal") return refuse("foreign_catalog", err.reason, err.message);
      throw err;
    }
    // Another business's catalog: as unknown as a catalog that does not exist.
    if (catalog.businessId !== m.businessId) return refuse("foreign_catalog", "NOT_FOUND", "catalog not found");
    try {
      const order = await ports.createChatOrder(m.customerId, catalog, m.text, m.items, { messageId: m.messageId });
      ports.count("placed");
      ports.log.info({ message_id: m.messageId, order_id: order.id }, "chat order placed");
      return "ack";
    } catch (err) {
      if (err instanceof KontorError && err.kind !== "dependency_down" && err.kind !== "internal" && err.kind !== "concurrent_update") return refuse("refused", err.reason, err.message);
      throw err;
    }
  };
}
