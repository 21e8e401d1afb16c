/** A linked bank account and a top-up or payout, as the domain and the events see them. */
import type { AccountOwner } from "./ledger-account.js";

export interface BankAccount {
  id: string;
  owner: AccountOwner;
  currency: string;
  scheme: "iban" | "local";
  masked: string;
  holderName: string;
  createdAt: Date;
}

export interface BankOperation {
  id: string;
  kind: "topup" | "payout" | "refund";
  accountId: string;
  bankAccountId: string;
  bankAccountMasked: string;
  amountMinor: bigint;
  currency: string;
  state: "pending" | "settled" | "failed";
  failureReason: string;
  railReference: string;
  createdAt: Date;
  updatedAt: Date;
}
