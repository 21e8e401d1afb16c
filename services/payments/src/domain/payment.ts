/** A business payment and its refunds, as the domain and the events see them. */
import type { MoneyValue } from "@kontor/service-kit/money";

export interface PaymentIntent {
  id: string;
  orderId: string;
  businessId: string;
  customerId: string;
  amountMinor: bigint;
  currency: string;
  state: "requires_confirmation" | "succeeded" | "failed";
  feeBps: number;
  feeMinor: bigint;
  refundedMinor: bigint;
  failureReason: string;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface Refund {
  id: string;
  paymentId: string;
  amountMinor: bigint;
  feeReturnedMinor: bigint;
  currency: string;
  reason: string;
  /** Set when the refund goes to the customer's bank. */
  bankOperationId: string;
  createdAt: Date;
}

/** What a payment intent is made from: a catalog order (its event) or CreatePaymentIntent. */
export interface OrderToPay {
  orderId: string;
  businessId: string;
  customerId: string;
  amount: MoneyValue;
}
