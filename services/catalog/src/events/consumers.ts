import { PaymentFailed, PaymentRefunded, PaymentSucceeded } from "@kontor/proto/payments/v1/events";
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
  /** For a refund: whether it refunds everything the payment captured (only then is the order REFUNDED). */
  fullyRefunded: boolean;
  paymentId: string;
  /** What the customer paid (minor units), when the event says. */
  amount: { amountMinor: bigint; currency: string } | undefined;
}

/**
 * Reads one payments event with payments' own messages (PaymentSucceeded,
 * PaymentFailed, PaymentRefunded); anything else on the subject is poison
 * (the kit terminates it).
 */
export function decodePaymentEvent(data: Uint8Array, subject: string): PaymentEvent {
  let event: { meta?: { eventId: string } | undefined; orderId: string; paymentId: string; amount?: { amountMinor: string; currency: string } | undefined };
  let outcome: PaymentEvent["outcome"];
  let fullyRefunded = false;
  if (subject.endsWith(consumed.paymentSucceeded)) {
    outcome = "succeeded";
    event = PaymentSucceeded.decode(data);
  } else if (subject.endsWith(consumed.paymentFailed)) {
    outcome = "failed";
    event = PaymentFailed.decode(data);
  } else if (subject.endsWith(consumed.paymentRefunded)) {
    outcome = "refunded";
    const refunded = PaymentRefunded.decode(data);
    fullyRefunded = refunded.fullyRefunded;
    event = refunded;
  } else throw new Error(`not a payment outcome: ${subject}`);
  if (!event.meta?.eventId) throw new Error("payment event without event id");
  const amount = event.amount ? { amountMinor: BigInt(event.amount.amountMinor), currency: event.amount.currency } : undefined;
  return { outcome, eventId: event.meta.eventId, orderId: event.orderId, fullyRefunded, paymentId: event.paymentId, amount };
}

/**
 * Moves the order once per event id (the kit's once): a redelivered event
 * changes nothing. A success whose amount is not the order's total leaves
 * the order unpaid (its stock stays held until it expires), is recorded in
 * payment_mismatch and counted in kontor_catalog_payment_mismatches_total.
 */
export function paymentHandler(db: Kysely<CatalogDatabase>, orders: OrderService, log: Logger, mismatches?: { inc(): void }) {
  return (event: PaymentEvent): Promise<Outcome> =>
    once(db, PAYMENTS_CONSUMER, event.eventId, async (trx) => {
      if (!event.orderId) return;
      if (event.outcome === "refunded" && !event.fullyRefunded) {
        log.info({ order_id: event.orderId }, "partial refund: the order keeps its state");
        return;
      }
      const result = await orders.applyPayment(trx, event.orderId, event.outcome, { eventId: event.eventId, paymentId: event.paymentId, amount: event.amount });
      if (result.mismatch) {
        mismatches?.inc();
        log.warn(
          { order_id: event.orderId, payment_id: event.paymentId, reason: result.mismatch.reason, state: result.state, paid: result.mismatch.paid, total: result.mismatch.total },
          "payment does not pay the order (recorded in payment_mismatch): the order keeps its state",
        );
      } else if (!result.applied) log.warn({ order_id: event.orderId, outcome: event.outcome, state: result.state ?? "unknown" }, "payment outcome does not move the order");
    });
}
