import { OrderPlaced } from "@kontor/proto/catalog/v1/events";
import { ConversationOpened, MessageBilled } from "@kontor/proto/messaging/v1/events";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { once } from "@kontor/service-kit/nats";
import { parseMoney } from "@kontor/service-kit/money";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { PaymentService } from "../domain/payment-service.js";
import type { BillingService, Usage } from "../domain/billing-service.js";
import type { PaymentsDatabase } from "../store/database.js";
import { consumed } from "./subjects.js";

export const ORDER_PLACED_CONSUMER = "payments-order-placed";
export const MESSAGE_BILLED_CONSUMER = "payments-message-billed";
export const CONVERSATION_OPENED_CONSUMER = "payments-conversation-opened";

/**
 * catalog's order.placed makes the order's payment intent, once per event
 * (processed_events) and once per order (the intent's unique key), so a
 * redelivery or a CreatePaymentIntent for the same order changes nothing.
 * An order without a business, customer or positive total is a poison
 * message: terminated, never retried.
 */
export function registerConsumers(rt: Runtime<PaymentsDatabase>, payments: Pick<PaymentService, "createForOrder">, billing: Pick<BillingService, "recordUsage">): void {
  registerBillingConsumers(rt, billing);
  rt.consume({
    durable: ORDER_PLACED_CONSUMER,
    domain: "catalog",
    subject: consumed.orderPlaced,
    decode: (data) => OrderPlaced.decode(data),
    async handle(event) {
      const eventId = event.meta?.eventId;
      const order = event.order;
      if (!eventId || !order?.id || !order.businessId || !order.customerId) return "term";
      let amount;
      try {
        amount = parseMoney("total", order.total);
      } catch {
        return "term";
      }
      if (amount.amountMinor <= 0n) return "term";
      try {
        return await once(rt.db, ORDER_PLACED_CONSUMER, eventId, async (trx) => {
          await payments.createForOrder(trx, { orderId: order.id, businessId: order.businessId, customerId: order.customerId, amount });
        });
      } catch (err) {
        // The order already has a payment for another customer or amount: retrying cannot help.
        if (err instanceof PolicyRefused) {
          rt.log.warn({ event_id: eventId, order_id: order.id, reason: err.reason }, "order.placed refused");
          return "term";
        }
        throw err;
      }
    },
  });
}

/**
 * The bill from messaging's billing events: a billable message.billed
 * (per-message pricing) or conversation.opened (conversation-based) becomes
 * one usage line, once per event; a free one records nothing.
 */
function registerBillingConsumers(rt: Runtime<PaymentsDatabase>, billing: Pick<BillingService, "recordUsage">): void {
  const record = (durable: string) => async (usage: Usage | "free" | "poison") => {
    if (usage === "poison") return "term" as const;
    if (usage === "free") return "ack" as const;
    return once(rt.db, durable, usage.eventId, (trx) => billing.recordUsage(trx, usage));
  };
  rt.consume({
    durable: MESSAGE_BILLED_CONSUMER,
    domain: "messaging",
    subject: consumed.messageBilled,
    decode: (data) => MessageBilled.decode(data),
    handle: (e) =>
      record(MESSAGE_BILLED_CONSUMER)(
        !e.meta?.eventId || !e.businessId || !e.category
          ? "poison"
          : !e.billable
            ? "free"
            : { eventId: e.meta.eventId, businessId: e.businessId, kind: "message", category: e.category, country: e.customerCountry, at: e.sentAt ?? e.meta.occurredAt ?? new Date() },
      ),
  });
  rt.consume({
    durable: CONVERSATION_OPENED_CONSUMER,
    domain: "messaging",
    subject: consumed.conversationOpened,
    decode: (data) => ConversationOpened.decode(data),
    handle: (e) =>
      record(CONVERSATION_OPENED_CONSUMER)(
        !e.meta?.eventId || !e.businessId
          ? "poison"
          : !e.billable
            ? "free"
            : { eventId: e.meta.eventId, businessId: e.businessId, kind: "conversation", category: e.category || "service", country: e.customerCountry, at: e.openedAt ?? e.meta.occurredAt ?? new Date() },
      ),
  });
}
