import type { Generated, Insertable, Selectable } from "kysely";

/** One use of an idempotency key: the request's fingerprint and what it made. */
export interface IdempotencyRecordTable {
  caller: string;
  scope: string;
  key: string;
  fingerprint: string;
  result_id: Generated<string>;
  created_at: Generated<Date>;
}

export interface BankAccountTable {
  id: string;
  owner_kind: "business" | "customer" | "system";
  owner_id: string;
  currency: string;
  scheme: "iban" | "local";
  number_sealed: Buffer;
  number_hmac: string;
  masked: string;
  holder_name: Generated<string>;
  created_at: Generated<Date>;
}
export type BankAccountRow = Selectable<BankAccountTable>;

export interface BankOperationTable {
  id: string;
  kind: "topup" | "payout" | "refund";
  account_id: string;
  bank_account_id: string;
  amount_minor: string;
  currency: string;
  state: Generated<"pending" | "settled" | "failed">;
  rail: string;
  rail_reference: Generated<string>;
  transfer_id: string | null;
  failure_reason: Generated<string>;
  actor: string;
  submitted_at: Date | null;
  /** A replica submitting it holds it until then; another takes it over after. */
  submit_claimed_until: Generated<Date | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export type BankOperationRow = Selectable<BankOperationTable>;
export type NewBankOperationRow = Insertable<BankOperationTable>;

export interface PaymentPinTable {
  customer_id: string;
  hash: Buffer;
  salt: Buffer;
  cost: number;
  failed_attempts: Generated<number>;
  locked_until: Date | null;
  updated_at: Generated<Date>;
}
export type PaymentPinRow = Selectable<PaymentPinTable>;

export interface CollectRequestTable {
  id: string;
  requester_customer_id: string;
  payer_customer_id: string;
  amount_minor: string;
  currency: string;
  note: Generated<string>;
  state: Generated<"pending" | "approved" | "declined" | "expired">;
  expires_at: Date;
  transfer_id: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export type CollectRequestRow = Selectable<CollectRequestTable>;

/** Pay by number: the customer an E.164 number belongs to, as onboarding verified it. */
export interface PaymentNumberTable {
  number: string;
  customer_id: string;
  updated_at: Generated<Date>;
}

export interface SettlementScheduleTable {
  business_id: string;
  bank_account_id: string;
  currency: string;
  minimum_minor: string;
  enabled: boolean;
  next_run_at: Date;
  updated_at: Generated<Date>;
}
export type SettlementScheduleRow = Selectable<SettlementScheduleTable>;

export interface BusinessPlanTable {
  business_id: string;
  plan: string;
  updated_at: Generated<Date>;
}

export interface PaymentIntentTable {
  id: string;
  order_id: string;
  business_id: string;
  customer_id: string;
  amount_minor: string;
  currency: string;
  state: Generated<"requires_confirmation" | "succeeded" | "failed">;
  fee_bps: Generated<number>;
  fee_minor: Generated<string>;
  refunded_minor: Generated<string>;
  failure_reason: Generated<string>;
  expires_at: Date;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export type PaymentIntentRow = Selectable<PaymentIntentTable>;

export interface PaymentRefundTable {
  id: string;
  payment_id: string;
  amount_minor: string;
  fee_returned_minor: string;
  currency: string;
  reason: Generated<string>;
  actor: string;
  /** The bank operation carrying the refund to the customer's bank; null when it went to the wallet. */
  bank_operation_id: string | null;
  created_at: Generated<Date>;
}
export type PaymentRefundRow = Selectable<PaymentRefundTable>;

export interface UsageLineTable {
  event_id: string;
  business_id: string;
  kind: "message" | "conversation";
  category: string;
  country: string;
  currency: string;
  unit_price_minor: string;
  period: string;
  occurred_at: Date;
  invoice_id: string | null;
}

export interface InvoiceTable {
  id: string;
  business_id: string;
  period: string;
  currency: string;
  total_minor: string;
  issued_at: Generated<Date>;
  state: Generated<"open" | "paid">;
  paid_at: Date | null;
  transfer_id: string | null;
}
export type InvoiceRow = Selectable<InvoiceTable>;

export interface InvoiceLineTable {
  invoice_id: string;
  kind: string;
  category: string;
  country: string;
  quantity: string;
  unit_price_minor: string;
  amount_minor: string;
}
export type InvoiceLineRow = Selectable<InvoiceLineTable>;
