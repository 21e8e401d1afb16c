import type { Generated, Insertable, Selectable } from "kysely";

export interface LedgerTransferTable {
  id: string;
  caller: string;
  idempotency_key: string;
  from_account_id: string;
  to_account_id: string;
  amount_minor: string;
  currency: string;
  note: Generated<string>;
  created_at: Generated<Date>;
}

export type LedgerTransferRow = Selectable<LedgerTransferTable>;
export type NewLedgerTransferRow = Insertable<LedgerTransferTable>;
