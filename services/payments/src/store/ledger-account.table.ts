import type { Generated, Insertable, Selectable } from "kysely";

export interface LedgerAccountTable {
  id: string;
  owner_kind: "business" | "customer" | "system";
  owner_id: string;
  kind: "customer_wallet" | "business_wallet" | "platform_fee_revenue" | "bank_clearing" | "refunds_in_flight" | "system";
  currency: string;
  /** int8 arrives as a string (exact 64-bit); write as a string too. */
  balance_minor: Generated<string>;
  /** Reserved by pending transfers out of the account. */
  pending_debits_minor: Generated<string>;
  allow_negative_balance: Generated<boolean>;
  status: Generated<"open" | "frozen" | "closed">;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type LedgerAccountRow = Selectable<LedgerAccountTable>;
export type NewLedgerAccountRow = Insertable<LedgerAccountTable>;
