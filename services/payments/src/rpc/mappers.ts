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
