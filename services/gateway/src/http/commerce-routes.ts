import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { CommerceSettings } from "@kontor/proto/catalog/v1/catalog_service";
import { GraphError } from "../domain/graph-error.js";
import type { ServiceClients } from "../clients/services.js";
import type { GatewayDatabase } from "../store/tables.js";
import { numberOf, ok, toGraphError } from "./server.js";
import { idParams } from "./schemas.js";

/** A boolean as JSON or as the query string and forms carry it. */
const flag = { anyOf: [{ type: "boolean" }, { type: "string", enum: ["true", "false"] }] } as const;

/** The POST parameters (cloud-api.md §8.1), from the query string, a form or JSON. */
export const commerceSettingsBody = {
  type: "object",
  additionalProperties: false,
  properties: { is_cart_enabled: flag, is_catalog_visible: flag },
} as const;

const asFlag = (v: unknown): boolean | undefined => (v === undefined ? undefined : v === true || v === "true");

export function commerceSettingsJson(s: CommerceSettings | undefined, id: string): Record<string, unknown> {
  return { is_cart_enabled: s?.isCartEnabled ?? true, is_catalog_visible: s?.isCatalogVisible ?? false, id };
}

/**
 * GET and POST /{phone-number-id}/whatsapp_commerce_settings onto catalog's
 * GetCommerceSettings and UpdateCommerceSettings. The settings are the
 * business's (every number of a WABA shares its catalog, §8.1); the node's
 * id is the phone number's.
 */
export function registerCommerceRoutes(app: FastifyInstance, deps: { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger }): void {
  const { db, clients, log } = deps;

  app.get("/:id/whatsapp_commerce_settings", { schema: { params: idParams, querystring: { type: "object", properties: { fields: { type: "string", maxLength: 2048 } } } } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    try {
      const { settings } = await clients.call(clients.catalog, clients.catalog.getCommerceSettings, { businessId: number.businessId }, { partnerId: partner.partnerId, businessId: number.businessId });
      return ok(reply, { data: [commerceSettingsJson(settings, number.phoneNumberId)] });
    } catch (err) {
      throw toGraphError(err, req, log);
    }
  });

  app.post("/:id/whatsapp_commerce_settings", { schema: { params: idParams, body: commerceSettingsBody } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_management");
    const body = req.body as { is_cart_enabled?: unknown; is_catalog_visible?: unknown };
    const isCartEnabled = asFlag(body.is_cart_enabled);
    const isCatalogVisible = asFlag(body.is_catalog_visible);
    if (isCartEnabled === undefined && isCatalogVisible === undefined) throw new GraphError(131008, "Parameter is_cart_enabled or is_catalog_visible is required.");
    try {
      await clients.call(clients.catalog, clients.catalog.updateCommerceSettings, { businessId: number.businessId, isCartEnabled, isCatalogVisible }, { partnerId: partner.partnerId, businessId: number.businessId });
      return ok(reply, { success: true });
    } catch (err) {
      throw toGraphError(err, req, log);
    }
  });
}
