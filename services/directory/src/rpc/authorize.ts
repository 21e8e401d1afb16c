import { canActForBusiness, requireCustomer, requireRole, type Principal } from "@kontor/service-kit/auth";
import { NotYours } from "@kontor/service-kit/errors";
import { REVIEWER_ROLE } from "./access.js";

/**
 * The tenant checks of each RPC, after the kit's allow-list (access.ts) let
 * the caller's kind in: which business or customer this principal may act
 * for. Domain code has no principal checks.
 */

/** Who registered a business as its partner ("" when none); a partner manages the businesses it registered. */
export type PartnerOf = (businessId: string) => Promise<string>;

/** The business itself, a partner that manages it (named in its token or the one that registered it), or an allow-listed service. */
async function requireOwner(principal: Principal, businessId: string, partnerOf: PartnerOf): Promise<void> {
  if (canActForBusiness(principal, businessId)) return;
  if (principal.kind === "partner" && (await partnerOf(businessId)) === principal.partnerId) return;
  throw new NotYours("this principal may not act for that business");
}

export const authorizeUpdateBusiness = requireOwner;
export const authorizeRequestVerification = requireOwner;
export const authorizeListFollowers = requireOwner;
export const authorizeCreateChatLink = requireOwner;
export const authorizeListChatLinks = requireOwner;
export const authorizeDeleteChatLink = requireOwner;
export const authorizeGetChatLinkQrCode = requireOwner;

/** Reviewers see every case; anyone else only the cases of a business it may act for. */
export async function authorizeListVerificationCases(principal: Principal, businessId: string, partnerOf: PartnerOf): Promise<void> {
  if (principal.kind === "staff" && principal.roles.includes(REVIEWER_ROLE)) return;
  if (!businessId) throw new NotYours(`the ${REVIEWER_ROLE} role is required to list every business's cases`);
  await requireOwner(principal, businessId, partnerOf);
}

/** Reviewers only; the allow-list admits no one else, checked again so widening the table cannot open it. */
export function authorizeDecideVerification(principal: Principal): void {
  requireRole(principal, REVIEWER_ROLE);
}
export const authorizeRevokeVerification = authorizeDecideVerification;

/** A customer follows, unfollows and lists for itself. */
export function authorizeFollowBusiness(principal: Principal, customerId: string): void {
  requireCustomer(principal, customerId);
}
export const authorizeUnfollowBusiness = authorizeFollowBusiness;
export const authorizeListFollowedBusinesses = authorizeFollowBusiness;
