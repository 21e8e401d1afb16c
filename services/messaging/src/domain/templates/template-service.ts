import { TemplateCategory, TemplateParameterFormat, TemplateStatus, type TemplateComponentSpec } from "@kontor/proto/messaging/v1/template";
import { AlreadyExists, InvalidInput, NotFound, OverLimit, PolicyRefused } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import { templateStatusEvent } from "../../events/template-status.js";
import { qualityStrike, recordApprovedEdit, requireTransition } from "./lifecycle.js";
import { reviewTemplate } from "./review.js";
import { validateCategory, validateTemplate, type TemplateInput } from "./validate.js";

/** A stored template. */
export interface TemplateRecord {
  id: string;
  businessId: string;
  name: string;
  language: string;
  category: TemplateCategory;
  previousCategory: TemplateCategory;
  status: TemplateStatus;
  parameterFormat: TemplateParameterFormat;
  components: TemplateComponentSpec[];
  rejectedReason: string;
  pauseCount: number;
  pausedUntil: Date | undefined;
  /** When the template was edited while APPROVED, over the last 30 days (the edit limits). */
  approvedEdits: Date[];
  createdAt: Date;
  updatedAt: Date;
}

export interface TemplateFilter {
  status?: TemplateStatus;
  category?: TemplateCategory;
  language?: string;
  namePrefix?: string;
}

/** Where a list page starts: after this (name, language). */
export interface TemplateCursor {
  name: string;
  language: string;
}

export interface TemplateTransaction {
  /** Locks the business's template settings (created on first use) and counts its templates. */
  lockBusiness(businessId: string): Promise<{ verified: boolean; count: number }>;
  exists(businessId: string, name: string, language: string): Promise<boolean>;
  insert(t: TemplateRecord): Promise<void>;
  findForUpdate(id: string): Promise<TemplateRecord | undefined>;
  update(t: TemplateRecord): Promise<void>;
  /** The statuses of the templates a delete names, locked. */
  lockForDelete(businessId: string, by: { name: string; id: string | undefined }): Promise<{ id: string; status: TemplateStatus }[]>;
  deleteIds(ids: string[]): Promise<number>;
  enqueue(events: OutboxEvent[]): Promise<void>;
}

export interface TemplatePorts {
  store: {
    findTemplate(id: string): Promise<TemplateRecord | undefined>;
    listTemplates(businessId: string, filter: TemplateFilter, after: TemplateCursor | undefined, limit: number): Promise<TemplateRecord[]>;
    templateTransaction<T>(work: (tx: TemplateTransaction) => Promise<T>): Promise<T>;
  };
  /** Templates per business: 250, or 6,000 for a verified one (cloud-api.md §4.3). */
  limits: { standard: number; verified: number };
  clock: () => Date;
  newId: () => string;
}

/** Cloud API code of a business over its template cap. */
export const TEMPLATE_LIMIT_CODE = 2388019;

export const DEFAULT_TEMPLATE_LIMITS = { standard: 250, verified: 6000 } as const;

const MAX_REASON = 1000;

export type ReviewDecision = "approve" | "reject";

/**
 * Templates: create and edit are validated (validate.ts), reviewed
 * (review.ts) and stored with their status events in one transaction, so a
 * created template is PENDING and then APPROVED or REJECTED at once, and
 * both changes are events. Every read and write is scoped to the business
 * the caller acts for: another business's template is NOT_FOUND.
 */
export function createTemplateService(ports: TemplatePorts) {
  const { store, limits, clock, newId } = ports;

  const notFound = () => new NotFound("template");
  const owned = (t: TemplateRecord | undefined, businessId: string) => {
    if (!t || t.businessId !== businessId) throw notFound();
    return t;
  };

  /** The review's events on a template just put to PENDING from `from`, and the reviewed record. */
  function reviewed(base: TemplateRecord, from: TemplateStatus, at: Date): { record: TemplateRecord; events: OutboxEvent[] } {
    const outcome = reviewTemplate({ name: base.name, language: base.language, category: base.category, parameterFormat: base.parameterFormat === TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED ? "named" : "positional", components: base.components });
    requireTransition(TemplateStatus.TEMPLATE_STATUS_PENDING, outcome.status, "review");
    const rejected = outcome.status === TemplateStatus.TEMPLATE_STATUS_REJECTED;
    const record: TemplateRecord = {
      ...base,
      status: outcome.status,
      category: outcome.category,
      previousCategory: outcome.previousCategory,
      rejectedReason: rejected ? outcome.reason : "",
      pausedUntil: undefined,
      updatedAt: at,
    };
    const events = [
      templateStatusEvent(base, from, TemplateStatus.TEMPLATE_STATUS_PENDING, "", at),
      templateStatusEvent(record, TemplateStatus.TEMPLATE_STATUS_PENDING, outcome.status, outcome.reason, at),
    ];
    return { record, events };
  }

  /** One status change with its event, in a transaction that holds the row. */
  async function setStatus(tx: TemplateTransaction, t: TemplateRecord, next: Partial<TemplateRecord> & { status: TemplateStatus }, reason: string, at: Date): Promise<TemplateRecord> {
    const record = { ...t, ...next, updatedAt: at };
    await tx.update(record);
    await tx.enqueue([templateStatusEvent(record, t.status, next.status, reason, at)]);
    return record;
  }

  return {
    async create(businessId: string, input: TemplateInput): Promise<TemplateRecord> {
      const def = validateTemplate(input);
      const at = clock();
      const base: TemplateRecord = {
        id: newId(),
        businessId,
        name: def.name,
        language: def.language,
        category: def.category,
        previousCategory: TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED,
        status: TemplateStatus.TEMPLATE_STATUS_PENDING,
        parameterFormat: def.parameterFormat === "named" ? TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_NAMED : TemplateParameterFormat.TEMPLATE_PARAMETER_FORMAT_POSITIONAL,
        components: def.components,
        rejectedReason: "",
        pauseCount: 0,
        pausedUntil: undefined,
        approvedEdits: [],
        createdAt: at,
        updatedAt: at,
      };
      const { record, events } = reviewed(base, TemplateStatus.TEMPLATE_STATUS_UNSPECIFIED, at);
      return store.templateTransaction(async (tx) => {
        const { verified, count } = await tx.lockBusiness(businessId);
        const cap = verified ? limits.verified : limits.standard;
        if (count >= cap) throw new OverLimit("TEMPLATE_LIMIT", `a business may have at most ${cap} templates (each language counts)`, TEMPLATE_LIMIT_CODE);
        if (await tx.exists(businessId, def.name, def.language)) throw new AlreadyExists(`template ${def.name} in ${def.language}`, "name");
        await tx.insert(record);
        await tx.enqueue(events);
        return record;
      });
    },

    async get(businessId: string, id: string): Promise<TemplateRecord> {
      return owned(await store.findTemplate(id), businessId);
    },

    list(businessId: string, filter: TemplateFilter, after: TemplateCursor | undefined, limit: number): Promise<TemplateRecord[]> {
      return store.listTemplates(businessId, filter, after, limit);
    },

    /** Replaces the components (and the category, unless APPROVED) and reviews again. */
    async edit(businessId: string, id: string, change: { components: TemplateComponentSpec[]; category: TemplateCategory; parameterFormat: TemplateParameterFormat }): Promise<TemplateRecord> {
      if (change.category !== TemplateCategory.TEMPLATE_CATEGORY_UNSPECIFIED) validateCategory(change.category);
      if (change.components.length === 0) throw new InvalidInput("components", "is required: an edit replaces the components wholesale");
      return store.templateTransaction(async (tx) => {
        const t = owned(await tx.findForUpdate(id), businessId);
        requireTransition(t.status, TemplateStatus.TEMPLATE_STATUS_PENDING, "edit");
        const category = change.category || t.category;
        if (t.status === TemplateStatus.TEMPLATE_STATUS_APPROVED && category !== t.category) throw new InvalidInput("category", "the category of an APPROVED template cannot change");
        const parameterFormat = change.parameterFormat || t.parameterFormat;
        const def = validateTemplate({ name: t.name, language: t.language, category, parameterFormat, components: change.components });
        const at = clock();
        const approvedEdits = t.status === TemplateStatus.TEMPLATE_STATUS_APPROVED ? recordApprovedEdit(t.approvedEdits, at) : t.approvedEdits;
        const { record, events } = reviewed({ ...t, approvedEdits, category: def.category, parameterFormat, components: def.components, status: TemplateStatus.TEMPLATE_STATUS_PENDING }, t.status, at);
        await tx.update(record);
        await tx.enqueue(events);
        return record;
      });
    },

    /**
     * Every language of a name, or one template by id (and name, when
     * given). A DISABLED template cannot be deleted (cloud-api.md §4.3), so
     * a delete that names one deletes nothing. Returns how many were deleted.
     */
    async delete(businessId: string, by: { name: string; id: string | undefined }): Promise<number> {
      return store.templateTransaction(async (tx) => {
        const targets = await tx.lockForDelete(businessId, by);
        if (targets.length === 0) throw notFound();
        if (targets.some((t) => t.status === TemplateStatus.TEMPLATE_STATUS_DISABLED)) throw new PolicyRefused("TEMPLATE_DISABLED", "a DISABLED template cannot be deleted");
        return tx.deleteIds(targets.map((t) => t.id));
      });
    },

    /** A reviewer's override: APPROVED or REJECTED (with a reason) from any status; the same status again changes nothing. */
    async review(id: string, decision: ReviewDecision, reasonIn: string): Promise<TemplateRecord> {
      const reason = reasonIn.trim();
      if (decision === "reject" && !reason) throw new InvalidInput("reason", "is required to reject a template");
      if (reason.length > MAX_REASON) throw new InvalidInput("reason", `must be at most ${MAX_REASON} characters`);
      const to = decision === "approve" ? TemplateStatus.TEMPLATE_STATUS_APPROVED : TemplateStatus.TEMPLATE_STATUS_REJECTED;
      return store.templateTransaction(async (tx) => {
        const t = await tx.findForUpdate(id);
        if (!t) throw notFound();
        if (t.status === to) return t;
        requireTransition(t.status, to, "reviewer");
        return setStatus(tx, t, { status: to, rejectedReason: decision === "reject" ? reason : "", pausedUntil: undefined }, reason, clock());
      });
    },

    /**
     * Quality's verdicts (the quality rule calls these): a strike pauses an
     * APPROVED template (3 h, then 6 h) or disables it on the third; unpause
     * returns a PAUSED one to APPROVED.
     */
    async applyQuality(id: string, verdict: "strike" | "unpause", reason: string): Promise<TemplateRecord> {
      return store.templateTransaction(async (tx) => {
        const t = await tx.findForUpdate(id);
        if (!t) throw notFound();
        const at = clock();
        if (verdict === "unpause") {
          requireTransition(t.status, TemplateStatus.TEMPLATE_STATUS_APPROVED, "quality");
          return setStatus(tx, t, { status: TemplateStatus.TEMPLATE_STATUS_APPROVED, pausedUntil: undefined }, reason, at);
        }
        const next = qualityStrike(t, at);
        return setStatus(tx, t, next, reason, at);
      });
    },
  };
}

export type TemplateService = ReturnType<typeof createTemplateService>;
