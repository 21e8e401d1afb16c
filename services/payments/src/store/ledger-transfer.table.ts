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
  /** Why: transfer, p2p, collect, topup, payout, capture, fee, refund, fee_refund. */
  reason: Generated<string>;
  /** The payment, payout or request it belongs to. */
  reference: Generated<string>;
  state: Generated<"pending" | "posted" | "voided">;
  timeout_at: Date | null;
  resolved_at: Date | null;
  created_at: Generated<Date>;
}

export type LedgerTransferRow = Selectable<LedgerTransferTable>;
export type NewLedgerTransferRow = Insertable<LedgerTransferTable>;
