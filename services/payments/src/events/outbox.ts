import { AccountOpened, InvoiceIssued, InvoicePaid, PaymentFailed, PaymentRefunded, PaymentSucceeded, PayoutFailed, PayoutSettled, TransferCompleted } from "@kontor/proto/payments/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { AccountOwner, LedgerAccount } from "../domain/ledger-account.js";
import type { Transfer } from "../domain/transfer.js";
import type { BankOperation } from "../domain/bank-operation.js";
import type { PaymentIntent, Refund } from "../domain/payment.js";
import type { Invoice } from "../domain/invoice.js";
import { invoiceToPb } from "../pb/invoice.js";
import { ownerToPb } from "../pb/owner.js";
import { subjects } from "./subjects.js";

function businessOf(...owners: AccountOwner[]): string {
  return owners.find((o) => o.kind === "business")?.id ?? "";
}

export function accountOpenedEvent(account: LedgerAccount): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.accountOpened,
    payload: AccountOpened.encode({
      meta: { eventId, occurredAt: account.createdAt, businessId: businessOf(account.owner) },
      accountId: account.id,
      owner: ownerToPb(account.owner),
      currency: account.currency,
      allowNegativeBalance: account.allowNegativeBalance,
    }).finish(),
  };
}

export function transferCompletedEvent(transfer: Transfer, from: LedgerAccount, to: LedgerAccount): OutboxEvent {
  const eventId = newEventId();
  return {
    eventId,
    subject: subjects.transferCompleted,
    payload: TransferCompleted.encode({
      meta: { eventId, occurredAt: transfer.createdAt, businessId: businessOf(from.owner, to.owner) },
      transferId: transfer.id,
      fromAccountId: from.id,
      fromOwner: ownerToPb(from.owner),
      toAccountId: to.id,
      toOwner: ownerToPb(to.owner),
      amount: { amountMinor: transfer.amount.amountMinor.toString(), currency: transfer.amount.currency },
      note: transfer.note,
      kind: transfer.reason,
      collectRequestId: transfer.reason === "collect" ? transfer.reference : "",
      completedAt: transfer.createdAt,
    }).finish(),
  };
}

const money = (amountMinor: bigint, currency: string) => ({ amountMinor: amountMinor.toString(), currency });

/** Event ids are derived from what happened, so a repeat of the same change can never publish twice. */
export function paymentSucceededEvent(p: PaymentIntent, at: Date): OutboxEvent {
  const eventId = `${p.id}:succeeded`;
  return {
    eventId,
    subject: subjects.paymentSucceeded,
    payload: PaymentSucceeded.encode({
      meta: { eventId, occurredAt: at, businessId: p.businessId },
      paymentId: p.id,
      orderId: p.orderId,
      amount: money(p.amountMinor, p.currency),
      fee: money(p.feeMinor, p.currency),
      businessId: p.businessId,
      customerId: p.customerId,
      succeededAt: at,
      feeBps: p.feeBps,
    }).finish(),
  };
}

export function paymentFailedEvent(p: PaymentIntent, at: Date): OutboxEvent {
  const eventId = `${p.id}:failed`;
  return {
    eventId,
    subject: subjects.paymentFailed,
    payload: PaymentFailed.encode({
      meta: { eventId, occurredAt: at, businessId: p.businessId },
      paymentId: p.id,
      orderId: p.orderId,
      amount: money(p.amountMinor, p.currency),
      fee: money(0n, p.currency),
      businessId: p.businessId,
      customerId: p.customerId,
      reason: p.failureReason,
      failedAt: at,
    }).finish(),
  };
}

export function paymentRefundedEvent(p: PaymentIntent, r: Refund): OutboxEvent {
  const eventId = `${r.id}:refunded`;
  return {
    eventId,
    subject: subjects.paymentRefunded,
    payload: PaymentRefunded.encode({
      meta: { eventId, occurredAt: r.createdAt, businessId: p.businessId },
      paymentId: p.id,
      orderId: p.orderId,
      amount: money(r.amountMinor, p.currency),
      fee: money(r.feeReturnedMinor, p.currency),
      businessId: p.businessId,
      customerId: p.customerId,
      refundId: r.id,
      refundedTotal: money(p.refundedMinor, p.currency),
      captured: money(p.amountMinor, p.currency),
      fullyRefunded: p.refundedMinor === p.amountMinor,
      reason: r.reason,
      refundedAt: r.createdAt,
    }).finish(),
  };
}

export function payoutEvent(op: BankOperation, account: LedgerAccount, at: Date): OutboxEvent {
  const meta = { occurredAt: at, businessId: businessOf(account.owner) };
  if (op.state === "settled") {
    const eventId = `${op.id}:settled`;
    return {
      eventId,
      subject: subjects.payoutSettled,
      payload: PayoutSettled.encode({
        meta: { ...meta, eventId },
        payoutId: op.id,
        accountId: op.accountId,
        owner: ownerToPb(account.owner),
        bankAccountId: op.bankAccountId,
        bankAccountMasked: op.bankAccountMasked,
        amount: money(op.amountMinor, op.currency),
        railReference: op.railReference,
        settledAt: at,
      }).finish(),
    };
  }
  const eventId = `${op.id}:failed`;
  return {
    eventId,
    subject: subjects.payoutFailed,
    payload: PayoutFailed.encode({
      meta: { ...meta, eventId },
      payoutId: op.id,
      accountId: op.accountId,
      owner: ownerToPb(account.owner),
      bankAccountId: op.bankAccountId,
      amount: money(op.amountMinor, op.currency),
      reason: op.failureReason,
      failedAt: at,
    }).finish(),
  };
}

export function invoiceIssuedEvent(invoice: Invoice): OutboxEvent {
  const eventId = `${invoice.businessId}:${invoice.period}:invoice`;
  return {
    eventId,
    subject: subjects.invoiceIssued,
    payload: InvoiceIssued.encode({ meta: { eventId, occurredAt: invoice.issuedAt, businessId: invoice.businessId }, invoice: invoiceToPb(invoice) }).finish(),
  };
}

export function invoicePaidEvent(invoice: Invoice): OutboxEvent {
  const eventId = `${invoice.id}:paid`;
  return {
    eventId,
    subject: subjects.invoicePaid,
    payload: InvoicePaid.encode({ meta: { eventId, occurredAt: invoice.paidAt ?? invoice.issuedAt, businessId: invoice.businessId }, invoice: invoiceToPb(invoice) }).finish(),
  };
}
