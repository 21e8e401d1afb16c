import { canActForBusiness, type Principal } from "@kontor/service-kit/auth";
import { NotYours } from "@kontor/service-kit/errors";
import type { AccountOwner, LedgerAccount, ValidOpenAccount } from "../domain/ledger-account.js";
import type { CollectRequest } from "../domain/p2p-service.js";
import type { PaymentIntent } from "../domain/payment-service.js";

/**
 * The owner checks of each RPC, after the kit's allow-list (access.ts) let
 * the caller's kind in: whose accounts this principal may open, read and
 * move money out of. Domain code has no principal checks.
 */

/** Staff role that may read, open and draw on system accounts and open accounts that may go negative. */
export const LEDGER_ADMIN_ROLE = "payments.ledger_admin";
/** Staff role that sets businesses' plans. */
export const BILLING_ADMIN_ROLE = "payments.billing_admin";

function isLedgerAdmin(principal: Principal): boolean {
  return principal.kind === "staff" && principal.roles.includes(LEDGER_ADMIN_ROLE);
}

/** May this principal read the owner's accounts and move money out of them? Services: see canActForBusiness. */
export function canActForOwner(principal: Principal, owner: AccountOwner): boolean {
  switch (owner.kind) {
    case "business":
      return canActForBusiness(principal, owner.id);
    case "customer":
      return (principal.kind === "customer" && principal.customerId === owner.id) || principal.kind === "service";
    case "system":
      return isLedgerAdmin(principal);
  }
}

function requireOwner(principal: Principal, owner: AccountOwner): void {
  if (!canActForOwner(principal, owner)) throw new NotYours("this principal may not act for that account's owner");
}

/** Only the customer itself (with its PIN, checked in the domain) moves money out of a customer's wallet: no service, no staff. */
export function isCustomerItself(principal: Principal, customerId: string): boolean {
  return principal.kind === "customer" && principal.customerId === customerId;
}

function requireCustomerItself(principal: Principal, customerId: string): void {
  if (!isCustomerItself(principal, customerId)) throw new NotYours("only the customer moves money out of its wallet");
}

/** Owners open their own accounts; only ledger admins open accounts that may go negative. */
export function authorizeOpenAccount(principal: Principal, open: ValidOpenAccount): void {
  requireOwner(principal, open.owner);
  if (open.allowNegativeBalance && !isLedgerAdmin(principal)) throw new NotYours(`only the ${LEDGER_ADMIN_ROLE} role opens accounts that can go negative`);
}

/** The account's owner (or who acts for it) reads it and its statement. */
export function authorizeGetAccount(principal: Principal, account: LedgerAccount): void {
  requireOwner(principal, account.owner);
}

/**
 * Money leaves an account only at its owner's (or its actor's) request;
 * a customer's wallet only at the customer's own. Owners never change, so
 * the check may precede the transaction.
 */
export function authorizeDebit(principal: Principal, from: Pick<LedgerAccount, "owner">): void {
  requireOwner(principal, from.owner);
  if (from.owner.kind === "customer") requireCustomerItself(principal, from.owner.id);
}

/** Bank accounts and top-ups: the owner itself (a business's partner for the business). */
export function authorizeOwnerItself(principal: Principal, owner: AccountOwner): void {
  if (owner.kind === "system") throw new NotYours("system accounts have no bank accounts");
  if (owner.kind === "customer") requireCustomerItself(principal, owner.id);
  else if (!canActForBusiness(principal, owner.id) || principal.kind === "service") throw new NotYours("this principal may not act for that business");
}

export function authorizeCustomer(principal: Principal, customerId: string): void {
  requireCustomerItself(principal, customerId);
}

export function authorizeReadCollect(principal: Principal, request: CollectRequest): void {
  if (!isCustomerItself(principal, request.requesterCustomerId) && !isCustomerItself(principal, request.payerCustomerId)) throw new NotYours("only the two parties read a collect request");
}

/** A business (its partner, or catalog for every business) asks its customers to pay. */
export function authorizeBusinessSide(principal: Principal, businessId: string): void {
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
}

export function authorizeReadPayment(principal: Principal, payment: PaymentIntent): void {
  if (isCustomerItself(principal, payment.customerId)) return;
  if (principal.kind !== "customer" && canActForBusiness(principal, payment.businessId)) return;
  throw new NotYours("only the business and the customer read a payment");
}

/** Refunds: the business or its partner, never a service. */
export function authorizeRefund(principal: Principal, payment: PaymentIntent): void {
  if (principal.kind === "service" || !canActForBusiness(principal, payment.businessId)) throw new NotYours("only the business refunds its payments");
}

/** A business's bills: the business, its partner, or billing staff. */
export function authorizeBusinessReader(principal: Principal, businessId: string): void {
  if (principal.kind === "staff" && principal.roles.includes(BILLING_ADMIN_ROLE)) return;
  if (principal.kind === "service" || !canActForBusiness(principal, businessId)) throw new NotYours("only the business reads its invoices");
}
