import type { Migration } from "kysely";
import * as createLedger from "./2026_11_21_140000_create_ledger.js";
import * as addWalletsAndPayments from "./2026_12_05_020000_add_wallets_and_payments.js";
import * as addBilling from "./2026_12_05_030000_add_billing.js";
import * as balanceCheckPerStatement from "./2026_12_05_040000_balance_check_per_statement.js";
import * as addPaymentNumbersAndClaims from "./2026_12_05_050000_add_payment_numbers_and_claims.js";
import * as addInvoicePayment from "./2026_12_05_060000_add_invoice_payment.js";
import * as addSettlementSchedule from "./2026_12_05_070000_add_settlement_schedule.js";
import * as addBankRefunds from "./2026_12_05_080000_add_bank_refunds.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_21_140000_create_ledger": createLedger,
  "2026_12_05_020000_add_wallets_and_payments": addWalletsAndPayments,
  "2026_12_05_030000_add_billing": addBilling,
  "2026_12_05_040000_balance_check_per_statement": balanceCheckPerStatement,
  "2026_12_05_050000_add_payment_numbers_and_claims": addPaymentNumbersAndClaims,
  "2026_12_05_060000_add_invoice_payment": addInvoicePayment,
  "2026_12_05_070000_add_settlement_schedule": addSettlementSchedule,
  "2026_12_05_080000_add_bank_refunds": addBankRefunds,
};
