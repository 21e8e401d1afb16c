import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { LedgerAccountTable } from "./ledger-account.table.js";
import type { LedgerEntryTable } from "./ledger-entry.table.js";
import type { LedgerTransferTable } from "./ledger-transfer.table.js";

export interface PaymentsDatabase extends KitTables {
  ledger_account: LedgerAccountTable;
  ledger_transfer: LedgerTransferTable;
  ledger_entry: LedgerEntryTable;
}
