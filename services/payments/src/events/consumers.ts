import { OrderPlaced } from "@kontor/proto/catalog/v1/events";
import { PolicyRefused } from "@kontor/service-kit/errors";
import { once } from "@kontor/service-kit/nats";
import { parseMoney } from "@kontor/service-kit/money";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { PaymentService } from "../domain/payment-service.js";
import type { PaymentsDatabase } from "../store/database.js";
import { consumed } from "./subjects.js";

export const ORDER_PLACED_CONSUMER = "payments-order-placed";

/**
 * catalog's order.placed makes the order's payment intent, once per event
 * (processed_events) and once per order (the intent's unique key), so a
 * redelivery or a CreatePaymentIntent for the same order changes nothing.
 * An order without a business, customer or positive total is a poison
 * message: terminated, never retried.
 */
export function registerConsumers(rt: Runtime<PaymentsDatabase>, payments: Pick<PaymentService, "createForOrder">): void {
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
