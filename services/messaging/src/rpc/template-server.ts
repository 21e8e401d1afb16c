import { TemplateServiceService, type TemplateServiceServer, type TemplateReviewDecision } from "@kontor/proto/messaging/v1/template_service";
import { TemplateCategory, TemplateStatus, type Template } from "@kontor/proto/messaging/v1/template";
import type { Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotYours } from "@kontor/service-kit/errors";
import { parseUuid } from "@kontor/service-kit/ids";
import type { KitServer } from "@kontor/service-kit/grpc-server";
import { pageOf, readPage } from "@kontor/service-kit/paging";
import type { TemplateCursor, TemplateRecord, TemplateService } from "../domain/templates/template-service.js";
import { validateLanguage, validateName } from "../domain/templates/validate.js";
import { TEMPLATE_REVIEWER_ROLE } from "./access.js";
import { authorizeBusinessTools } from "./authorize.js";

const isCursor = (v: unknown): v is TemplateCursor => typeof v === "object" && v !== null && typeof (v as TemplateCursor).name === "string" && typeof (v as TemplateCursor).language === "string";

/** A business acts for itself, a partner for its businesses, the gateway (the access table's only service) for the partners it authenticated. */
function authorizeBusiness(principal: Principal, businessId: string): string {
  authorizeBusinessTools(principal, businessId);
  return businessId;
}

function authorizeReviewer(principal: Principal): void {
  if (principal.kind !== "staff" || !principal.roles.includes(TEMPLATE_REVIEWER_ROLE)) throw new NotYours(`reviewing templates takes a staff principal with the ${TEMPLATE_REVIEWER_ROLE} role`);
}

const KNOWN_STATUSES = new Set<number>(Object.values(TemplateStatus).filter((v) => typeof v === "number" && v > 0) as number[]);
const KNOWN_CATEGORIES = new Set<number>([TemplateCategory.TEMPLATE_CATEGORY_MARKETING, TemplateCategory.TEMPLATE_CATEGORY_UTILITY, TemplateCategory.TEMPLATE_CATEGORY_AUTHENTICATION]);

export function templateToPb(t: TemplateRecord): Template {
  return {
    id: t.id,
    businessId: t.businessId,
    name: t.name,
    language: t.language,
    category: t.category,
    status: t.status,
    parameterFormat: t.parameterFormat,
    components: t.components,
    rejectedReason: t.rejectedReason,
    previousCategory: t.previousCategory,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    pauseCount: t.pauseCount,
  };
}

function decisionOf(d: TemplateReviewDecision): "approve" | "reject" {
  if (d === 1) return "approve";
  if (d === 2) return "reject";
  throw new InvalidInput("decision", "must be APPROVE or REJECT");
}

/** Thin handlers: decode → authorize → use case (domain/templates) → map. */
export function registerTemplateServer(grpc: KitServer, templates: TemplateService, maxPageSize: number): void {
  const handlers: TemplateServiceServer = {
    createTemplate: grpc.unary("CreateTemplate", async (req, ctx) => {
      const businessId = authorizeBusiness(ctx.principal, req.businessId);
      const t = await templates.create(businessId, req);
      return { template: templateToPb(t) };
    }),

    listTemplates: grpc.unary("ListTemplates", async (req, ctx) => {
      const businessId = authorizeBusiness(ctx.principal, req.businessId);
      const { limit, take, cursor } = readPage(req.page, isCursor, maxPageSize, 20);
      if (req.status && !KNOWN_STATUSES.has(req.status)) throw new InvalidInput("status", "is not a template status");
      if (req.category && !KNOWN_CATEGORIES.has(req.category)) throw new InvalidInput("category", "is not a template category");
      if (req.language) validateLanguage(req.language);
      if (req.namePrefix && !/^[a-z0-9_]{1,512}$/.test(req.namePrefix)) throw new InvalidInput("name_prefix", "must be lowercase letters, digits and underscores");
      const rows = await templates.list(businessId, { status: req.status || undefined, category: req.category || undefined, language: req.language || undefined, namePrefix: req.namePrefix || undefined }, cursor, take);
      const { items, page } = pageOf(rows, limit, (last) => ({ name: last.name, language: last.language }));
      return { templates: items.map(templateToPb), page };
    }),

    getTemplate: grpc.unary("GetTemplate", async (req, ctx) => {
      const businessId = authorizeBusiness(ctx.principal, req.businessId);
      return { template: templateToPb(await templates.get(businessId, parseUuid("template_id", req.templateId))) };
    }),

    editTemplate: grpc.unary("EditTemplate", async (req, ctx) => {
      const businessId = authorizeBusiness(ctx.principal, req.businessId);
      const id = parseUuid("template_id", req.templateId);
      return { template: templateToPb(await templates.edit(businessId, id, req)) };
    }),

    deleteTemplate: grpc.unary("DeleteTemplate", async (req, ctx) => {
      const businessId = authorizeBusiness(ctx.principal, req.businessId);
      const id = req.templateId ? parseUuid("template_id", req.templateId) : undefined;
      if (!id && !req.name) throw new InvalidInput("name", "is required (or a template_id)");
      if (req.name) validateName(req.name);
      return { deleted: await templates.delete(businessId, { name: req.name, id }) };
    }),

    reviewTemplate: grpc.unary("ReviewTemplate", async (req, ctx) => {
      authorizeReviewer(ctx.principal);
      const id = parseUuid("template_id", req.templateId);
      return { template: templateToPb(await templates.review(id, decisionOf(req.decision), req.reason)) };
    }),
  };
  grpc.addService(TemplateServiceService, handlers);
}
