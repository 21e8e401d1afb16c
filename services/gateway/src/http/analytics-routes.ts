import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import type { Logger } from "@kontor/service-kit/log";
import { AnalyticsGranularity, type AnalyticsPoint } from "@kontor/proto/messaging/v1/tools_service";
import { analyticsDataPoints, analyticsQueryOf, dayOf, templateAnalyticsQueryOf, templateDataPoints } from "../domain/analytics-mapping.js";
import { invalidParameter } from "../domain/graph-error.js";
import { digitsOf } from "../domain/phone.js";
import { ServiceCallFailed, type ServiceClients } from "../clients/services.js";
import { numbersOfBusiness } from "../store/directory-store.js";
import type { GatewayDatabase } from "../store/tables.js";
import { ok, toGraphError, wabaOf } from "./server.js";
import { idParams } from "./schemas.js";

const listParam = { anyOf: [{ type: "string", maxLength: 2048 }, { type: "array", maxItems: 100, items: { anyOf: [{ type: "string", maxLength: 64 }, { type: "integer" }] } }] } as const;

export const templateAnalyticsQuery = {
  type: "object",
  properties: {
    start: { type: "string", maxLength: 20 },
    end: { type: "string", maxLength: 20 },
    granularity: { type: "string", maxLength: 20 },
    template_ids: listParam,
    metric_types: listParam,
    product_type: { type: "string", maxLength: 20 },
    use_waba_timezone: { type: "string", maxLength: 5 },
  },
} as const;

type AnalyticsDeps = { db: Kysely<GatewayDatabase>; clients: ServiceClients; log: Logger };

/** A service's field names → the analytics parameter the client sent. */
const namer = (prefix: string) => (f: string) => (f === "start_date" ? `${prefix}start` : f === "end_date" ? `${prefix}end` : f === "granularity" ? `${prefix}granularity` : f);

/**
 * The WABA node's `analytics` field (cloud-api.md §10.5): messaging's
 * GetAnalytics per number asked (or the whole business), summed per period.
 */
export async function analyticsField(req: FastifyRequest, deps: AnalyticsDeps, waba: { partnerId: string; businessId: string }, modifiers: Map<string, string>): Promise<Record<string, unknown>> {
  const q = analyticsQueryOf(modifiers);
  const numbers = await numbersOfBusiness(deps.db, waba.businessId);
  let chosen: string[] = [];
  if (q.phoneNumbers) {
    for (const given of q.phoneNumbers) {
      const digits = given.replace(/\D/g, "");
      const n = numbers.find((x) => digitsOf(x.e164) === digits || x.phoneNumberId === given);
      if (!n) throw invalidParameter("analytics.phone_numbers", `names a number that is not of this WhatsApp Business Account: ${given.slice(0, 32)}`);
      if (!chosen.includes(n.phoneNumberId)) chosen.push(n.phoneNumberId);
    }
  }
  const granularity = q.granularity === "DAY" ? AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY : AnalyticsGranularity.ANALYTICS_GRANULARITY_MONTH;
  const actingFor = { partnerId: waba.partnerId, businessId: waba.businessId };
  const ask = (phoneNumberId: string) =>
    deps.clients.call(deps.clients.tools, deps.clients.tools.getAnalytics, { businessId: waba.businessId, phoneNumberId, startDate: q.first, endDate: q.last, granularity }, actingFor).then((r) => r.points);
  let answers: AnalyticsPoint[][];
  try {
    answers = chosen.length > 0 ? await Promise.all(chosen.map(ask)) : [await ask("")];
  } catch (err) {
    throw toGraphError(err, req, deps.log, namer("analytics."));
  }
  if (chosen.length === 0) chosen = numbers.map((n) => n.phoneNumberId);
  return {
    phone_numbers: numbers.filter((n) => chosen.includes(n.phoneNumberId)).map((n) => digitsOf(n.e164)),
    granularity: q.granularity,
    data_points: analyticsDataPoints(q, answers),
  };
}

/** GET /{waba-id}/template_analytics (cloud-api.md §10.5) from messaging's per-day template counts. */
export function registerAnalyticsRoutes(app: FastifyInstance, deps: AnalyticsDeps): void {
  const { clients, log } = deps;
  app.get("/:id/template_analytics", { schema: { params: idParams, querystring: templateAnalyticsQuery } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, businessId } = wabaOf(req, id, "whatsapp_business_management");
    const q = templateAnalyticsQueryOf(req.params_);
    const actingFor = { partnerId: partner.partnerId, businessId };
    const templates: { id: string; name: string }[] = [];
    for (const templateId of q.templateIds) {
      try {
        const { template } = await clients.call(clients.templates, clients.templates.getTemplate, { businessId, templateId }, actingFor);
        if (!template) throw invalidParameter("template_ids", `names a template that does not exist: ${templateId}`);
        templates.push({ id: templateId, name: template.name });
      } catch (err) {
        if (err instanceof ServiceCallFailed && [3, 5, 7].includes(err.failure.grpcCode)) throw invalidParameter("template_ids", `names a template that is not of this WhatsApp Business Account: ${templateId}`);
        throw toGraphError(err, req, log);
      }
    }
    let points: AnalyticsPoint[];
    try {
      ({ points } = await clients.call(clients.tools, clients.tools.getAnalytics, { businessId, phoneNumberId: "", startDate: q.first, endDate: q.last, granularity: AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY }, actingFor));
    } catch (err) {
      throw toGraphError(err, req, log, namer(""));
    }
    const data_points = templateDataPoints(q, templates, points);
    return ok(reply, {
      data: [{ granularity: "DAILY", product_type: "cloud_api", data_points }],
      paging: { cursors: { before: Buffer.from(dayOf(q.start)).toString("base64url"), after: Buffer.from(dayOf(q.end)).toString("base64url") } },
    });
  });
}
