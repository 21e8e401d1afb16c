import { AccountOpened, TransferCompleted } from "@kontor/proto/payments/v1/events";
import { newEventId, type OutboxEvent } from "@kontor/service-kit/outbox";
import type { AccountOwner, LedgerAccount } from "../domain/ledger-account.js";
import type { Transfer } from "../domain/transfer.js";
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
    }).finish(),
  };
}
