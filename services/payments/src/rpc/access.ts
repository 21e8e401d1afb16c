import type { PaymentsServiceServer } from "@kontor/proto/payments/v1/payments_service";
import { services, type AccessTableOf, type Caller } from "@kontor/service-kit/access";
import { BILLING_ADMIN_ROLE, LEDGER_ADMIN_ROLE } from "./authorize.js";

/** Account owners (and a business's partner) and the ledger's administrators. */
const OWNERS: readonly Caller[] = ["business", "partner", "customer", `staff:${LEDGER_ADMIN_ROLE}`];
/** A business's side of its money: the business and its partner. */
const BUSINESSES: readonly Caller[] = ["business", "partner"];

/**
 * Who may call each PaymentsService RPC; the kit refuses everyone else
 * before a handler runs, and authorize.ts then checks whose data it is.
 * Ads bills campaign spend: it reads and debits advertisers' accounts.
 * Catalog asks for a payment for each order and reads its state.
 */
export const paymentsAccess: AccessTableOf<PaymentsServiceServer> = {
  OpenAccount: OWNERS,
  GetAccount: [...OWNERS, ...services("ads")],
  PostTransfer: [...OWNERS, ...services("ads")],
  GetStatement: OWNERS,
  LinkBankAccount: ["business", "partner", "customer"],
  ListBankAccounts: ["business", "partner", "customer"],
  TopUp: ["business", "partner", "customer"],
  Payout: ["business", "partner", "customer"],
  GetBankOperation: ["business", "partner", "customer"],
  SetSettlementSchedule: BUSINESSES,
  SetPaymentPin: ["customer"],
  // Onboarding verified the number; nobody else may point a number's payments at a customer.
  SetPaymentNumber: services("onboarding"),
  SendMoney: ["customer"],
  RequestMoney: ["customer"],
  RespondToCollectRequest: ["customer"],
  GetCollectRequest: ["customer"],
  CreatePaymentIntent: [...BUSINESSES, ...services("catalog")],
  ConfirmPaymentIntent: ["customer"],
  GetPaymentIntent: [...BUSINESSES, "customer", ...services("catalog")],
  RefundPayment: BUSINESSES,
  SetBusinessPlan: [`staff:${BILLING_ADMIN_ROLE}`],
  ListInvoices: [...BUSINESSES, `staff:${BILLING_ADMIN_ROLE}`],
  GetInvoice: [...BUSINESSES, `staff:${BILLING_ADMIN_ROLE}`],
  IssueInvoices: [`staff:${BILLING_ADMIN_ROLE}`],
};
