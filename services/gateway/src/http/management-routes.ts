import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import type { GetMessagingLimitsResponse } from "@kontor/proto/messaging/v1/messaging_service";
import { GraphError, invalidParameter, unknownObject } from "../domain/graph-error.js";
import { categoryFilter, categoryName, createInputOf, editInputOf, selectFields, statusFilter, statusName, templateJson } from "../domain/template-mapping.js";
import { mediaNode, partnerMedia, type MediaDeps } from "./media-routes.js";
import { analyticsField } from "./analytics-routes.js";
import { parseFields } from "../domain/analytics-mapping.js";
import { ServiceCallFailed, type ServiceClients } from "../clients/services.js";
import { findNumber, numbersOfBusiness, type NumberRecord } from "../store/directory-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { baseUrl, chargeManagement, chargeTemplateCreation, numberOf, ok, partnerWith, toGraphError, wabaOf } from "./server.js";
import { idParams, pagingProperties } from "./schemas.js";

const listQuery = {
  type: "object",
  properties: {
    ...pagingProperties,
    fields: { type: "string", maxLength: 2048 },
    name: { type: "string", maxLength: 512 },
    status: { type: "string", maxLength: 100 },
    category: { type: "string", maxLength: 100 },
    language: { type: "string", maxLength: 20 },
  },
} as const;

/** Messaging's quality rating → the Cloud API's (§6.1). */
const quality = (rating: string) => (["GREEN", "YELLOW", "RED"].includes(rating) ? rating : "UNKNOWN");

/** A phone number node (GET /{phone-number-id}, GET /{waba-id}/phone_numbers). */
function phoneNumberJson(n: NumberRecord, limits: GetMessagingLimitsResponse | undefined): Record<string, unknown> {
  const mine = limits?.numbers.find((x) => x.phoneNumberId === n.phoneNumberId);
  const tier = limits?.tier || "TIER_250";
  return {
    verified_name: n.verifiedName || n.businessName || n.displayName,
    display_phone_number: n.e164,
    id: n.phoneNumberId,
    quality_rating: quality(mine?.qualityRating ?? ""),
    code_verification_status: "VERIFIED",
    platform_type: "CLOUD_API",
    status: "CONNECTED",
    name_status: "APPROVED",
    throughput: { level: (mine?.throughputPerSecond ?? 80) > 80 ? "HIGH" : "STANDARD" },
    messaging_limit_tier: tier,
    whatsapp_business_manager_messaging_limit: tier,
    account_mode: "LIVE",
  };
}


/** Phone numbers, WABA nodes and message templates (Business Management, cloud-api.md §4 and §6) onto messaging. */
export function registerManagementRoutes(app: FastifyInstance, deps: { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger; publicUrl: string; media: MediaDeps }): void {
  const { db, clients, log } = deps;

  const limitsOf = (partnerId: string, businessId: string) =>
    clients.call(clients.messaging, clients.messaging.getMessagingLimits, { businessId }, { partnerId, businessId });

  app.get("/:id", { schema: { params: idParams, querystring: { type: "object", properties: { fields: { type: "string", maxLength: 2048 } } } } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const fields = (req.query as { fields?: string }).fields;
    // Media ids, phone-number ids and WABA ids share the path; media needs the messaging permission.
    const media = await partnerMedia(req, db, id);
    if (media) return ok(reply, selectFields(mediaNode(req, deps.media, media), fields));
    const partner = partnerWith(req, "whatsapp_business_management");
    const waba = partner.businesses.find((b) => b.wabaId === id);
    if (waba) {
      const name = (await numbersOfBusiness(db, waba.businessId))[0]?.businessName ?? "";
      const node: Record<string, unknown> = { id, name, currency: "USD", timezone_id: "1", message_template_namespace: waba.businessId.replace(/-/g, "_"), account_review_status: "APPROVED", ownership_type: "CLIENT_OWNED" };
      // Field expansion: analytics.start(…).end(…).granularity(…).phone_numbers(…) (cloud-api.md §10.5).
      const analytics = fields ? parseFields(fields).find((f) => f.name === "analytics") : undefined;
      if (analytics) {
        chargeManagement(req, partner.partnerId, waba.wabaId);
        node.analytics = await analyticsField(req, deps, { partnerId: partner.partnerId, businessId: waba.businessId }, analytics.modifiers);
      }
      return ok(reply, selectFields(node, fields));
    }
    const found = await templateById(req, id);
    if (found) return ok(reply, selectFields(templateJson(found.template), fields));
    const { number } = await numberOf(db, req, id, "whatsapp_business_management");
    try {
      const limits = await limitsOf(partner.partnerId, number.businessId);
      return ok(reply, selectFields(phoneNumberJson(number, limits), fields));
    } catch (err) {
      throw toGraphError(err, req, log);
    }
  });

  /**
   * A template id among the partner's businesses (ids carry no business, so each of the partner's is asked).
   * Not a template of theirs (or not a template id at all): undefined.
   */
  async function templateById(req: FastifyRequest, id: string) {
    const partner = partnerWith(req, "whatsapp_business_management");
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id) || (await findNumber(db, id))) return undefined;
    for (const b of partner.businesses) {
      try {
        const { template } = await clients.call(clients.templates, clients.templates.getTemplate, { businessId: b.businessId, templateId: id }, { partnerId: partner.partnerId, businessId: b.businessId });
        if (template) {
          chargeManagement(req, partner.partnerId, b.wabaId);
          return { template, business: b };
        }
      } catch (err) {
        if (err instanceof ServiceCallFailed && (err.failure.grpcCode === 5 || err.failure.grpcCode === 7 || err.failure.grpcCode === 3)) continue;
        throw toGraphError(err, req, log);
      }
    }
    return undefined;
  }

  // Edit a template (cloud-api.md §6): components replaced wholesale, category and parameter format optional.
  app.post("/:id", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const input = editInputOf(req.params_);
    const found = await templateById(req, id);
    if (!found) throw unknownObject(id, req.method);
    try {
      await clients.call(clients.templates, clients.templates.editTemplate, { businessId: found.business.businessId, templateId: id, ...input }, { partnerId: req.partner!.partnerId, businessId: found.business.businessId });
    } catch (err) {
      throw toGraphError(err, req, log);
    }
    return ok(reply, { success: true });
  });

  app.get("/:id/phone_numbers", { schema: { params: idParams, querystring: listQuery } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, businessId } = wabaOf(req, id, "whatsapp_business_management");
    const numbers = await numbersOfBusiness(db, businessId);
    let limits: GetMessagingLimitsResponse | undefined;
    try {
      limits = await limitsOf(partner.partnerId, businessId);
    } catch (err) {
      throw toGraphError(err, req, log);
    }
    const fields = (req.query as { fields?: string }).fields;
    const data = numbers.map((n) => selectFields(phoneNumberJson(n, limits), fields));
    const first = numbers[0]?.phoneNumberId ?? "";
    const last = numbers[numbers.length - 1]?.phoneNumberId ?? "";
    return ok(reply, { data, paging: { cursors: { before: Buffer.from(first).toString("base64url"), after: Buffer.from(last).toString("base64url") } } });
  });

  app.get("/:id/message_templates", { schema: { params: idParams, querystring: listQuery } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, businessId } = wabaOf(req, id, "whatsapp_business_management");
    const q = req.query as { limit?: number; after?: string; before?: string; fields?: string; name?: string; status?: string; category?: string; language?: string };
    if (q.before) throw invalidParameter("before", "is not supported: page forward with after");
    const limit = q.limit ?? 25;
    let res;
    try {
      res = await clients.call(
        clients.templates,
        clients.templates.listTemplates,
        { businessId, page: { pageSize: limit, pageToken: q.after ?? "" }, status: statusFilter(q.status), category: categoryFilter(q.category), language: q.language ?? "", namePrefix: q.name ?? "" },
        { partnerId: partner.partnerId, businessId },
      );
    } catch (err) {
      if (err instanceof ServiceCallFailed && err.failure.field.startsWith("page")) {
        throw new GraphError(/^v(2[4-9]|[3-9]\d)\./.test(req.graphVersion) ? 131059 : 100, "Parameter after: the pagination cursor is not valid; retry without it.");
      }
      throw toGraphError(err, req, log, (f) => f.replace(/^name_prefix$/, "name"));
    }
    const data = res.templates.map((t) => selectFields(templateJson(t), q.fields));
    const nextToken = res.page?.nextPageToken ?? "";
    const paging: Record<string, unknown> = { cursors: { before: q.after ?? "", after: nextToken } };
    if (nextToken) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries({ fields: q.fields, name: q.name, status: q.status, category: q.category, language: q.language })) if (v) params.set(k, v);
      params.set("limit", String(limit));
      params.set("after", nextToken);
      paging.next = `${baseUrl(req, deps.publicUrl)}/${req.graphVersion || "v23.0"}/${id}/message_templates?${params.toString()}`;
    }
    return ok(reply, { data, paging });
  });

  app.post("/:id/message_templates", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, businessId, wabaId } = wabaOf(req, id, "whatsapp_business_management");
    const input = createInputOf(req.body as Record<string, unknown>);
    chargeTemplateCreation(req, partner.partnerId, wabaId);
    try {
      const { template } = await clients.call(clients.templates, clients.templates.createTemplate, { businessId, ...input }, { partnerId: partner.partnerId, businessId });
      return ok(reply, { id: template?.id ?? "", status: statusName(template?.status ?? 0), category: categoryName(template?.category ?? 0) });
    } catch (err) {
      throw toGraphError(err, req, log);
    }
  });

  app.delete("/:id/message_templates", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, businessId } = wabaOf(req, id, "whatsapp_business_management");
    const params = req.params_;
    const name = typeof params.name === "string" ? params.name : "";
    const hsmId = typeof params.hsm_id === "string" || typeof params.hsm_id === "number" ? String(params.hsm_id) : "";
    if (!name) throw new GraphError(131008, "Parameter name is required.");
    try {
      await clients.call(clients.templates, clients.templates.deleteTemplate, { businessId, name, templateId: hsmId }, { partnerId: partner.partnerId, businessId });
    } catch (err) {
      if (err instanceof ServiceCallFailed && err.failure.grpcCode === 5) throw invalidParameter("name", "does not name a template of this account");
      throw toGraphError(err, req, log, (f) => (f === "template_id" ? "hsm_id" : f));
    }
    return ok(reply, { success: true });
  });
}
