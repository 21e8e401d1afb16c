import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { LedgerAccountTable } from "./ledger-account.table.js";
import type { LedgerEntryTable } from "./ledger-entry.table.js";
import type { LedgerTransferTable } from "./ledger-transfer.table.js";
import type {
  BankAccountTable,
  BankOperationTable,
  BusinessPlanTable,
  CollectRequestTable,
  IdempotencyRecordTable,
  PaymentIntentTable,
  PaymentNumberTable,
  PaymentPinTable,
  PaymentRefundTable,
  SettlementScheduleTable,
  InvoiceLineTable,
  InvoiceTable,
  UsageLineTable,
} from "./payments.table.js";

export interface PaymentsDatabase extends KitTables {
  ledger_account: LedgerAccountTable;
  ledger_transfer: LedgerTransferTable;
  ledger_entry: LedgerEntryTable;
  idempotency_record: IdempotencyRecordTable;
  bank_account: BankAccountTable;
  bank_operation: BankOperationTable;
  payment_pin: PaymentPinTable;
  collect_request: CollectRequestTable;
  payment_number: PaymentNumberTable;
  settlement_schedule: SettlementScheduleTable;
  business_plan: BusinessPlanTable;
  payment_intent: PaymentIntentTable;
  payment_refund: PaymentRefundTable;
  usage_line: UsageLineTable;
  invoice: InvoiceTable;
  invoice_line: InvoiceLineTable;
}
