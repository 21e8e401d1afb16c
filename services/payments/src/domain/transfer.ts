import { InvalidInput, PolicyRefused } from "@kontor/service-kit/errors";
import { parseMoney, type MoneyValue } from "@kontor/service-kit/money";
import type { LedgerAccount } from "./ledger-account.js";

export type TransferState = "pending" | "posted" | "voided";

export interface Transfer {
  id: string;
  /** Who asked for it (a principal label, or "payments" for the service's own postings). */
  caller: string;
  /** Why: transfer, p2p, collect, topup, payout, capture, fee, refund, fee_refund. */
  reason: string;
  /** The payment, payout or request it belongs to. */
  reference: string;
  state: TransferState;
  timeoutAt: Date | null;
  fromAccountId: string;
  toAccountId: string;
  amount: MoneyValue;
  note: string;
  idempotencyKey: string;
  createdAt: Date;
}

export interface TransferInput {
  idempotencyKey: string;
  fromAccountId: string;
  toAccountId: string;
  amount: { amountMinor: string; currency: string } | undefined;
  note: string;
}

export interface ValidTransfer {
  idempotencyKey: string;
  fromAccountId: string;
  toAccountId: string;
  amount: MoneyValue;
  note: string;
}

/** One side of a transfer: a debit (negative) or a credit (positive). */
export interface PlannedEntry {
  accountId: string;
  amountMinor: bigint;
}

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);
const MAX_KEY = 200;
const MAX_NOTE = 280;

/** Checks a PostTransfer request without looking at the accounts; each problem names its field. */
export function validateTransfer(input: TransferInput): ValidTransfer {
  const key = input.idempotencyKey;
  if (!key) throw new InvalidInput("idempotency_key", "is required");
  if (key.length > MAX_KEY || !/^[\x21-\x7e]+$/.test(key)) {
    throw new InvalidInput("idempotency_key", `must be 1-${MAX_KEY} printable ASCII characters without spaces`);
  }
  if (!input.fromAccountId) throw new InvalidInput("from_account_id", "is required");
  if (!input.toAccountId) throw new InvalidInput("to_account_id", "is required");
  if (input.fromAccountId === input.toAccountId) throw new InvalidInput("to_account_id", "must differ from from_account_id");
  const amount = parseMoney("amount", input.amount);
  if (amount.amountMinor === 0n) throw new InvalidInput("amount.amount_minor", "must be positive");
  if (amount.amountMinor > INT64_MAX) throw new InvalidInput("amount.amount_minor", "is out of range");
  if ([...input.note].length > MAX_NOTE) throw new InvalidInput("note", `must be at most ${MAX_NOTE} characters`);
  return { idempotencyKey: key, fromAccountId: input.fromAccountId, toAccountId: input.toAccountId, amount, note: input.note };
}

function refuse(reason: string, message: string, field = ""): PolicyRefused {
  const err = new PolicyRefused(reason, message);
  err.field = field;
  return err;
}

/**
 * The double-entry rule: a transfer debits the source and credits the
 * destination by the same amount, so its entries sum to zero. Refuses what
 * the accounts' state does not allow.
 */
export function planTransfer(from: LedgerAccount, to: LedgerAccount, transfer: Pick<ValidTransfer, "amount">): PlannedEntry[] {
  if (from.currency !== to.currency) throw refuse("CURRENCY_MISMATCH", `the accounts hold different currencies (${from.currency}, ${to.currency})`, "to_account_id");
  if (transfer.amount.currency !== from.currency) {
    throw new InvalidInput("amount.currency", `must be ${from.currency}, the accounts' currency`, "CURRENCY_MISMATCH");
  }
  if (from.status !== "open") throw refuse("ACCOUNT_NOT_OPEN", `the source account is ${from.status}`, "from_account_id");
  if (to.status !== "open") throw refuse("ACCOUNT_NOT_OPEN", `the destination account is ${to.status}`, "to_account_id");
  const amount = transfer.amount.amountMinor;
  if (!from.allowNegativeBalance && from.balanceMinor - from.pendingDebitsMinor < amount) throw refuse("INSUFFICIENT_FUNDS", "the source account's balance is too low", "amount.amount_minor");
  if (from.balanceMinor - amount < INT64_MIN) throw refuse("BALANCE_LIMIT", "the source account's balance would leave the int64 range", "amount.amount_minor");
  if (to.balanceMinor + amount > INT64_MAX) throw refuse("BALANCE_LIMIT", "the destination account's balance would leave the int64 range", "amount.amount_minor");
  return [
    { accountId: from.id, amountMinor: -amount },
    { accountId: to.id, amountMinor: amount },
  ];
}

/** Is a retry (same caller, same key) asking for exactly the transfer that was made? */
export function isSameTransfer(made: Pick<Transfer, "fromAccountId" | "toAccountId" | "amount" | "note">, asked: Pick<ValidTransfer, "fromAccountId" | "toAccountId" | "amount" | "note">): boolean {
  return (
    made.fromAccountId === asked.fromAccountId &&
    made.toAccountId === asked.toAccountId &&
    made.amount.amountMinor === asked.amount.amountMinor &&
    made.amount.currency === asked.amount.currency &&
    made.note === asked.note
  );
}

export function idempotencyKeyReused(): PolicyRefused {
  return refuse("IDEMPOTENCY_KEY_REUSED", "this idempotency_key was already used for a different transfer", "idempotency_key");
}
