import { canActForBusiness, requireBusiness, type Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotYours } from "@kontor/service-kit/errors";
import type { Catalog } from "../domain/catalog-service.js";
import type { Actor, Order } from "../domain/order.js";

/**
 * Which principal may do what to which tenant's data: one function per
 * concern, called by the handlers before the use case. Which *kinds* of
 * caller reach a handler at all is the access table's (access.ts); these
 * check the business, catalog, customer or order named in the request. A
 * Kontor service the table lets through acts for any tenant.
 */

/** Creating catalogs and products, listing catalogs with hidden details: the business's own. */
export function authorizeManageBusiness(principal: Principal, businessId: string): void {
  if (!businessId) throw new InvalidInput("business_id", "is required");
  requireBusiness(principal, businessId);
}

/** Changing a catalog's products (update, archive, bulk upsert, import) and building product messages. */
export function authorizeManageCatalog(principal: Principal, catalog: Catalog): void {
  requireBusiness(principal, catalog.businessId);
}

/** Reading a catalog: anyone reads visible products; the owner also hidden ones. Returns whether hidden ones show. */
export function authorizeReadCatalog(principal: Principal, businessId: string): { includeHidden: boolean } {
  return { includeHidden: canActForBusiness(principal, businessId) };
}

/**
 * The customer whose cart or orders a call touches: a customer is always
 * itself (an empty customer_id means itself); a service names the customer.
 */
export function customerFor(principal: Principal, requested: string): string {
  if (principal.kind === "customer") {
    if (requested && requested !== principal.customerId) throw new NotYours("this principal may not act for that customer");
    return principal.customerId;
  }
  if (principal.kind === "service") {
    if (!requested) throw new InvalidInput("customer_id", "is required");
    return requested;
  }
  throw new NotYours("only the customer acts on its carts and orders");
}

/** An order is read by its business (or partner) and by its customer. */
export function authorizeReadOrder(principal: Principal, order: Order): void {
  if (principal.kind === "customer" ? principal.customerId === order.customerId : canActForBusiness(principal, order.businessId)) return;
  throw new NotYours("this principal may not read that order");
}

/** ListOrders: a business lists its own, a customer its own; exactly one of the two ids. */
export function authorizeListOrders(principal: Principal, businessId: string, customerId: string): { businessId: string } | { customerId: string } {
  if (businessId && customerId) throw new InvalidInput("customer_id", "must be empty when business_id is set");
  if (businessId) {
    requireBusiness(principal, businessId);
    return { businessId };
  }
  if (principal.kind === "customer" || customerId) return { customerId: customerFor(principal, customerId) };
  throw new InvalidInput("business_id", "or customer_id is required");
}

/** UpdateOrderStatus: the order's business moves it as the business; its customer as the customer. */
export function authorizeUpdateOrder(principal: Principal, order: Order): Actor {
  if (principal.kind === "customer") {
    if (principal.customerId !== order.customerId) throw new NotYours("this principal may not change that order");
    return "customer";
  }
  requireBusiness(principal, order.businessId);
  return "business";
}
