import { canActForBusiness, type Principal } from "@kontor/service-kit/auth";
import { NotYours } from "@kontor/service-kit/errors";
import type { AccountOwner, LedgerAccount, ValidOpenAccount } from "../domain/ledger-account.js";

/**
 * The owner checks of each RPC, after the kit's allow-list (access.ts) let
 * the caller's kind in: whose accounts this principal may open, read and
 * move money out of. Domain code has no principal checks.
 */

/** Staff role that may read, open and draw on system accounts and open accounts that may go negative. */
export const LEDGER_ADMIN_ROLE = "payments.ledger_admin";

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

/** Owners open their own accounts; only ledger admins open accounts that may go negative. */
export function authorizeOpenAccount(principal: Principal, open: ValidOpenAccount): void {
  requireOwner(principal, open.owner);
  if (open.allowNegativeBalance && !isLedgerAdmin(principal)) throw new NotYours(`only the ${LEDGER_ADMIN_ROLE} role opens accounts that can go negative`);
}

/** The account's owner (or who acts for it) reads it. */
export function authorizeGetAccount(principal: Principal, account: LedgerAccount): void {
  requireOwner(principal, account.owner);
}

/** Money leaves an account only at its owner's (or its actor's) request; owners never change, so the check may precede the transaction. */
export function authorizePostTransfer(principal: Principal, from: LedgerAccount): void {
  requireOwner(principal, from.owner);
}
