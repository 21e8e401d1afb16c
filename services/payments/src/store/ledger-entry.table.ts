import type { Generated, Insertable, Selectable } from "kysely";

export interface LedgerEntryTable {
  id: Generated<string>;
  transfer_id: string;
  account_id: string;
  /** Signed: debit < 0 < credit. */
  amount_minor: string;
  currency: string;
  balance_after_minor: string;
  created_at: Generated<Date>;
}

export type LedgerEntryRow = Selectable<LedgerEntryTable>;
export type NewLedgerEntryRow = Insertable<LedgerEntryTable>;
