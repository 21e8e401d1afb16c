import { PaymentOutcome } from "@kontor/proto/catalog/v1/payment_events";
import type { Kysely } from "kysely";
import { once, type Outcome } from "@kontor/service-kit/nats";
import type { Logger } from "@kontor/service-kit/log";
import type { CatalogDatabase } from "../store/database.js";
import type { OrderService } from "../domain/order-service.js";
import { consumed } from "./subjects.js";

export const PAYMENTS_CONSUMER = "catalog-payments";

export interface PaymentEvent {
  outcome: "succeeded" | "failed" | "refunded";
  eventId: string;
  orderId: string;
}

/** Reads one payments event; anything else on the subject is poison (the kit terminates it). */
export function decodePaymentEvent(data: Uint8Array, subject: string): PaymentEvent {
  const outcome = subject.endsWith(consumed.paymentSucceeded) ? "succeeded" : subject.endsWith(consumed.paymentFailed) ? "failed" : subject.endsWith(consumed.paymentRefunded) ? "refunded" : undefined;
  if (!outcome) throw new Error(`not a payment outcome: ${subject}`);
  const event = PaymentOutcome.decode(data);
  if (!event.meta?.eventId) throw new Error("payment event without event id");
  return { outcome, eventId: event.meta.eventId, orderId: event.orderId };
}

/** Moves the order once per event id (the kit's once): a redelivered event changes nothing. */
export function paymentHandler(db: Kysely<CatalogDatabase>, orders: OrderService, log: Logger) {
  return (event: PaymentEvent): Promise<Outcome> =>
    once(db, PAYMENTS_CONSUMER, event.eventId, async (trx) => {
      if (!event.orderId) return;
      const result = await orders.applyPayment(trx, event.orderId, event.outcome);
      if (!result.applied) log.warn({ order_id: event.orderId, outcome: event.outcome, state: result.state ?? "unknown" }, "payment outcome does not move the order");
    });
}
