import {
  BankOperationState,
  CollectRequestState,
  PaymentIntentState,
  type BankAccount as BankAccountPb,
  type BankOperation as BankOperationPb,
  type CollectRequest as CollectRequestPb,
  type PaymentIntent as PaymentIntentPb,
  type Refund as RefundPb,
  type StatementEntry as StatementEntryPb,
} from "@kontor/proto/payments/v1/payments_service";
import type { BankAccount, BankOperation } from "../domain/bank-service.js";
import type { CollectRequest } from "../domain/p2p-service.js";
import type { PaymentIntent, Refund } from "../domain/payment-service.js";
import type { StatementRow } from "../store/ledger-store.js";
import { AccountStatus as AccountStatusPb, type Account as AccountPb, type AccountOwner as AccountOwnerPb, type Transfer as TransferPb } from "@kontor/proto/payments/v1/payments_service";
import type { AccountOwner, AccountStatus, LedgerAccount } from "../domain/ledger-account.js";
import type { Transfer } from "../domain/transfer.js";
import { ownerToPb } from "../pb/owner.js";

/** The proto oneof as a domain owner; undefined when no case is set. */
export function ownerFromPb(owner: AccountOwnerPb | undefined): AccountOwner | undefined {
  switch (owner?.owner?.$case) {
    case "businessId":
      return { kind: "business", id: owner.owner.value };
    case "customerId":
      return { kind: "customer", id: owner.owner.value };
    case "system":
      return { kind: "system", id: owner.owner.value };
    default:
      return undefined;
  }
}

const statusToPb: Record<AccountStatus, AccountStatusPb> = {
  open: AccountStatusPb.ACCOUNT_STATUS_OPEN,
  frozen: AccountStatusPb.ACCOUNT_STATUS_FROZEN,
  closed: AccountStatusPb.ACCOUNT_STATUS_CLOSED,
};

export function accountToPb(a: LedgerAccount): AccountPb {
  return {
    id: a.id,
    owner: ownerToPb(a.owner),
    balance: { amountMinor: a.balanceMinor.toString(), currency: a.currency },
    allowNegativeBalance: a.allowNegativeBalance,
    status: statusToPb[a.status],
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

export function transferToPb(t: Transfer): TransferPb {
  return {
    id: t.id,
    fromAccountId: t.fromAccountId,
    toAccountId: t.toAccountId,
    amount: { amountMinor: t.amount.amountMinor.toString(), currency: t.amount.currency },
    note: t.note,
    idempotencyKey: t.idempotencyKey,
    createdAt: t.createdAt,
  };
}


const money = (amountMinor: bigint | string, currency: string) => ({ amountMinor: amountMinor.toString(), currency });

export function statementEntryToPb(e: StatementRow, accountId: string): StatementEntryPb {
  return {
    entryId: e.id,
    transferId: e.transfer_id,
    amount: money(e.amount_minor, e.currency),
    balanceAfter: money(e.balance_after_minor, e.currency),
    actor: e.caller,
    reason: e.reason,
    reference: e.reference,
    note: e.note,
    createdAt: e.created_at,
    counterpartyAccountId: e.from_account_id === accountId ? e.to_account_id : e.from_account_id,
  };
}

export function bankAccountToPb(b: BankAccount): BankAccountPb {
  return { id: b.id, owner: ownerToPb(b.owner), currency: b.currency, scheme: b.scheme, masked: b.masked, holderName: b.holderName, createdAt: b.createdAt };
}

const opState = { pending: BankOperationState.BANK_OPERATION_STATE_PENDING, settled: BankOperationState.BANK_OPERATION_STATE_SETTLED, failed: BankOperationState.BANK_OPERATION_STATE_FAILED };

export function bankOperationToPb(o: BankOperation): BankOperationPb {
  return {
    id: o.id,
    kind: o.kind,
    accountId: o.accountId,
    bankAccountId: o.bankAccountId,
    amount: money(o.amountMinor, o.currency),
    state: opState[o.state],
    failureReason: o.failureReason,
    railReference: o.railReference,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}

const collectState = {
  pending: CollectRequestState.COLLECT_REQUEST_STATE_PENDING,
  approved: CollectRequestState.COLLECT_REQUEST_STATE_APPROVED,
  declined: CollectRequestState.COLLECT_REQUEST_STATE_DECLINED,
  expired: CollectRequestState.COLLECT_REQUEST_STATE_EXPIRED,
};

export function collectRequestToPb(c: CollectRequest): CollectRequestPb {
  return {
    id: c.id,
    requesterCustomerId: c.requesterCustomerId,
    payerCustomerId: c.payerCustomerId,
    amount: money(c.amount.amountMinor, c.amount.currency),
    note: c.note,
    state: collectState[c.state],
    expiresAt: c.expiresAt,
    transferId: c.transferId,
    createdAt: c.createdAt,
  };
}

const intentState = {
  requires_confirmation: PaymentIntentState.PAYMENT_INTENT_STATE_REQUIRES_CONFIRMATION,
  succeeded: PaymentIntentState.PAYMENT_INTENT_STATE_SUCCEEDED,
  failed: PaymentIntentState.PAYMENT_INTENT_STATE_FAILED,
};

export function paymentIntentToPb(p: PaymentIntent): PaymentIntentPb {
  return {
    id: p.id,
    orderId: p.orderId,
    businessId: p.businessId,
    customerId: p.customerId,
    amount: money(p.amountMinor, p.currency),
    state: intentState[p.state],
    fee: money(p.feeMinor, p.currency),
    feeBps: p.feeBps,
    refunded: money(p.refundedMinor, p.currency),
    failureReason: p.failureReason,
    expiresAt: p.expiresAt,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

export function refundToPb(r: Refund): RefundPb {
  return { id: r.id, paymentId: r.paymentId, amount: money(r.amountMinor, r.currency), feeReturned: money(r.feeReturnedMinor, r.currency), reason: r.reason, createdAt: r.createdAt, bankOperationId: r.bankOperationId };
}
