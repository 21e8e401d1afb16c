import { isValidId } from "../domain/participant.js";
import { canActForBusiness, type Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotFound, NotYours } from "@kontor/service-kit/errors";
import type { CustomerUpsert } from "../domain/admin-service.js";
import type { CustomerCache } from "../domain/customers.js";
import type { DirectoryCache } from "../domain/directory.js";
import { partyKey, type Party } from "../domain/participant.js";
import type { SenderRole } from "../domain/send-service.js";

/**
 * Which principal may do what to which participant: one function per RPC,
 * called by its handler before the use case. Which *kinds* of caller reach
 * a handler at all is the access table's (access.ts); these check the
 * participant named in the request. A Kontor service that the table lets
 * through acts for any participant. Everything here reads memory (the
 * directory cache), except UpsertCustomer's check of an existing customer.
 */

type Numbers = Pick<DirectoryCache, "get">;

/** May this principal act as this participant (send as it, read its inbox and history)? */
function requireActsAs(principal: Principal, party: Party, numbers: Numbers): void {
  if (party.kind === "customer") {
    if (principal.kind === "service" || (principal.kind === "customer" && principal.customerId === party.id)) return;
    throw new NotYours("this principal may not act for that customer");
  }
  const n = numbers.get(party.id);
  if (!n) throw new NotFound("business number");
  if (!canActForBusiness(principal, n.businessId)) throw new NotYours("this principal may not act for that business number");
}

/** SendMessage and each item of SendMessageStream: the sender is the caller's; returns whose content rules apply. */
export function authorizeSendMessage(principal: Principal, sender: Party, numbers: Numbers): SenderRole {
  requireActsAs(principal, sender, numbers);
  return principal.kind === "service" ? "service" : sender.kind;
}

export const authorizeSendMessageStream = authorizeSendMessage;

/** StreamInbox: the caller reads only its own inbox; returns the inbox's key. */
export function authorizeStreamInbox(principal: Principal, participant: Party, numbers: Numbers): string {
  requireActsAs(principal, participant, numbers);
  return partyKey(participant);
}

export function authorizeReportReceipt(principal: Principal, reader: Party, numbers: Numbers): void {
  requireActsAs(principal, reader, numbers);
}

export function authorizeSendTyping(principal: Principal, sender: Party, numbers: Numbers): void {
  requireActsAs(principal, sender, numbers);
}

export function authorizeListConversations(principal: Principal, participant: Party, numbers: Numbers): void {
  requireActsAs(principal, participant, numbers);
}

export function authorizeListMessages(principal: Principal, participant: Party, numbers: Numbers): void {
  requireActsAs(principal, participant, numbers);
}

export function authorizeGetMessage(principal: Principal, participant: Party, numbers: Numbers): void {
  requireActsAs(principal, participant, numbers);
}

/** Kontor services register and update customers; a customer may update its own profile and settings, never its number. */
export async function authorizeUpsertCustomer(principal: Principal, input: CustomerUpsert, customers: Pick<CustomerCache, "byId">): Promise<void> {
  if (principal.kind === "service") return;
  if (principal.kind !== "customer" || principal.customerId !== input.customerId) throw new NotYours("only Kontor services register customers");
  const existing = await customers.byId(input.customerId);
  if (!existing) throw new NotYours("only Kontor services register customers");
  if (input.e164 && input.e164 !== existing.e164) throw new NotYours("a customer cannot change its number here");
}

/** The delivery side's verdict on a message: Kontor services only. */
export function authorizeFailMessage(principal: Principal): void {
  if (principal.kind !== "service") throw new NotYours("only Kontor services fail messages");
}

/** Staff role that may erase a business's message history. */
export const KEY_ERASER_ROLE = "operator";

/**
 * Destroying a business's history takes a staff operator, never a service
 * token. Returns who erases, as recorded in the audit row and the event.
 */
export function authorizeEraseBusinessKey(principal: Principal): string {
  if (principal.kind !== "staff" || !principal.roles.includes(KEY_ERASER_ROLE)) throw new NotYours(`erasing a business key takes a staff principal with the ${KEY_ERASER_ROLE} role`);
  return `staff:${principal.staffId}`;
}

/** Who records a consent change, as kept with the record ("customer:c1", "business:b1", "partner:p1", "service:gateway"). */
function recorderOf(principal: Principal): string {
  switch (principal.kind) {
    case "customer":
      return `customer:${principal.customerId}`;
    case "business":
      return `business:${principal.businessId}`;
    case "partner":
      return `partner:${principal.partnerId}`;
    case "service":
      return `service:${principal.service}`;
    case "staff":
      return `staff:${principal.staffId}`;
  }
}

/**
 * GetConsent: a customer reads its own (privacy settings included); a
 * business side reads one business it acts for, marketing only. Returns
 * whether the privacy settings are included.
 */
export function authorizeGetConsent(principal: Principal, customerId: string, businessId: string): { withPrivacy: boolean } {
  if (principal.kind === "customer") {
    if (principal.customerId !== customerId) throw new NotYours("a customer reads only its own consent");
    return { withPrivacy: true };
  }
  if (!businessId) throw new InvalidInput("business_id", "is required unless the customer asks");
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
  return { withPrivacy: false };
}

/**
 * SetMarketingConsent: the customer opts in or out for any business; a
 * business side records only an opt-in for a business it acts for, with
 * proof (it collects opt-in, as on the Cloud API). Returns the recorder.
 */
export function authorizeSetMarketingConsent(principal: Principal, customerId: string, businessId: string, optIn: boolean, proof: string): string {
  if (principal.kind === "customer") {
    if (principal.customerId !== customerId) throw new NotYours("a customer changes only its own consent");
    return recorderOf(principal);
  }
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
  if (!optIn) throw new NotYours("only the customer opts out");
  if (!proof.trim()) throw new InvalidInput("proof", "a business's opt-in needs the proof it collected");
  return recorderOf(principal);
}

/** SetPrivacySettings: the customer itself. Returns the recorder. */
export function authorizeSetPrivacySettings(principal: Principal, customerId: string): string {
  if (principal.kind !== "customer" || principal.customerId !== customerId) throw new NotYours("a customer changes only its own privacy settings");
  return recorderOf(principal);
}

/**
 * ExportCustomerData: the customer itself, or a staff operator handling the
 * customer's data-subject request. Returns who exports, for the log.
 */
export function authorizeExportCustomerData(principal: Principal, customerId: string): string {
  if (principal.kind === "customer" && principal.customerId === customerId) return recorderOf(principal);
  if (principal.kind === "staff" && principal.roles.includes(KEY_ERASER_ROLE)) return recorderOf(principal);
  throw new NotYours("only the customer or a staff operator exports a customer's data");
}

/**
 * EraseCustomerData: the customer itself, or a staff operator handling the
 * customer's data-subject request, who must say why (`reason`). Returns who
 * erases, as recorded in the audit row.
 */
export function authorizeEraseCustomerData(principal: Principal, customerId: string, reason: string): string {
  if (principal.kind === "customer" && principal.customerId === customerId) return recorderOf(principal);
  if (principal.kind === "staff" && principal.roles.includes(KEY_ERASER_ROLE)) {
    if (!reason.trim()) throw new InvalidInput("reason", "is required: name the data-subject request");
    return recorderOf(principal);
  }
  throw new NotYours("only the customer or a staff operator erases a customer's data");
}

type Businesses = Pick<DirectoryCache, "hasBusiness" | "businessOf">;

/** The customer itself, about a business the directory knows. */
function requireOwnBlocks(principal: Principal, customerId: string, businessId: string, businesses: Businesses): void {
  if (principal.kind !== "customer" || principal.customerId !== customerId) throw new NotYours("a customer blocks and reports only for itself");
  if (!businesses.hasBusiness(businessId)) throw new NotFound("business");
}

/** SetBusinessBlocked: the customer itself, about a known business. */
export function authorizeSetBusinessBlocked(principal: Principal, customerId: string, businessId: string, businesses: Businesses): void {
  requireOwnBlocks(principal, customerId, businessId, businesses);
}

/** ReportBusiness: the customer itself, about a known business; a number named must be one of that business's. */
export function authorizeReportBusiness(principal: Principal, customerId: string, businessId: string, phoneNumberId: string, businesses: Businesses): void {
  requireOwnBlocks(principal, customerId, businessId, businesses);
  if (!phoneNumberId) return;
  const owner = businesses.businessOf(phoneNumberId);
  if (owner === undefined) throw new NotFound("business number");
  if (owner !== businessId) throw new InvalidInput("phone_number_id", "is not a number of that business");
}

/** ListBlockedBusinesses: the customer itself. */
export function authorizeListBlockedBusinesses(principal: Principal, customerId: string): void {
  if (principal.kind !== "customer" || principal.customerId !== customerId) throw new NotYours("a customer lists only its own blocks");
}

/** GetMessagingLimits: staff (operators, by the access table), or whoever acts for the business. */
export function authorizeGetMessagingLimits(principal: Principal, businessId: string): void {
  if (principal.kind === "staff") return;
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
}

/**
 * A business's own resources (its templates, BusinessToolsService): whoever
 * acts for the business — itself, its partner, the gateway or the console
 * (each RPC's access list says which). Returns who acts, for the records
 * (an assignment's `assigned_by`).
 */
export function authorizeBusinessTools(principal: Principal, businessId: string): string {
  if (!businessId) throw new InvalidInput("business_id", "is required");
  if (!isValidId(businessId)) throw new InvalidInput("business_id", "must be 1-64 characters of [A-Za-z0-9_-]");
  if (!canActForBusiness(principal, businessId)) throw new NotYours("this principal may not act for that business");
  return recorderOf(principal);
}

/**
 * BlockUsers, UnblockUsers, ListBlockedUsers: the number's business (or its
 * partner) only; returns the number's business. An unknown number and
 * another business's number are both NOT_FOUND-free refusals as elsewhere.
 */
export function authorizeUserBlocks(principal: Principal, phoneNumberId: string, numbers: Numbers): string {
  if (!phoneNumberId) throw new InvalidInput("phone_number_id", "is required");
  if (!isValidId(phoneNumberId)) throw new InvalidInput("phone_number_id", "must be [A-Za-z0-9_-], at most 64 characters");
  const n = numbers.get(phoneNumberId);
  if (!n) throw new NotFound("business number");
  if (!canActForBusiness(principal, n.businessId)) throw new NotYours("this principal may not act for that business number");
  return n.businessId;
}
