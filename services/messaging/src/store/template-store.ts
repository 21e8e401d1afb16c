import { sql, type Kysely } from "kysely";
import { TemplateComponentSpec, TemplateStatus } from "@kontor/proto/messaging/v1/template";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { TemplateCursor, TemplateFilter, TemplateRecord, TemplateTransaction } from "../domain/templates/template-service.js";
import type { MessagingDatabase } from "./database.js";
import type { TemplateRow } from "./template.table.js";

function toRecord(r: TemplateRow): TemplateRecord {
  return {
    id: r.id,
    businessId: r.business_id,
    name: r.name,
    language: r.language,
    category: r.category,
    previousCategory: r.previous_category,
    status: r.status,
    parameterFormat: r.parameter_format,
    components: (r.components as unknown[]).map((c) => TemplateComponentSpec.fromJSON(c)),
    rejectedReason: r.rejected_reason,
    pauseCount: r.pause_count,
    pausedUntil: r.paused_until ?? undefined,
    approvedEdits: r.approved_edits,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toRow(t: TemplateRecord) {
  return {
    id: t.id,
    business_id: t.businessId,
    name: t.name,
    language: t.language,
    category: t.category,
    previous_category: t.previousCategory,
    status: t.status,
    parameter_format: t.parameterFormat,
    components: JSON.stringify(t.components.map((c) => TemplateComponentSpec.toJSON(c))),
    rejected_reason: t.rejectedReason,
    pause_count: t.pauseCount,
    paused_until: t.pausedUntil ?? null,
    approved_edits: t.approvedEdits,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

export async function findTemplate(db: Kysely<MessagingDatabase>, id: string): Promise<TemplateRecord | undefined> {
  const r = await db.selectFrom("template").selectAll().where("id", "=", id).executeTakeFirst();
  return r && toRecord(r);
}

/** One page by (name, language); the prefix is matched literally (LIKE's wildcards escaped). */
export async function findTemplateByName(db: Kysely<MessagingDatabase>, businessId: string, name: string, language: string): Promise<TemplateRecord | undefined> {
  const r = await db.selectFrom("template").selectAll().where("business_id", "=", businessId).where("name", "=", name).where("language", "=", language).executeTakeFirst();
  return r && toRecord(r);
}

/** Every template a send could use or be refused by with a reason of its own (approved, paused, disabled): the send path's cache at start. */
export async function loadSendableTemplates(db: Kysely<MessagingDatabase>): Promise<TemplateRecord[]> {
  const rows = await db.selectFrom("template").selectAll().where("status", "in", [TemplateStatus.TEMPLATE_STATUS_APPROVED, TemplateStatus.TEMPLATE_STATUS_PAUSED, TemplateStatus.TEMPLATE_STATUS_DISABLED]).execute();
  return rows.map(toRecord);
}

export async function listTemplates(db: Kysely<MessagingDatabase>, businessId: string, filter: TemplateFilter, after: TemplateCursor | undefined, limit: number): Promise<TemplateRecord[]> {
  let q = db.selectFrom("template").selectAll().where("business_id", "=", businessId);
  if (filter.status) q = q.where("status", "=", filter.status);
  if (filter.category) q = q.where("category", "=", filter.category);
  if (filter.language) q = q.where("language", "=", filter.language);
  if (filter.namePrefix) q = q.where("name", "like", `${filter.namePrefix.replace(/[\\%_]/g, "\\$&")}%`);
  if (after) q = q.where(sql<boolean>`(name, language) > (${after.name}, ${after.language})`);
  const rows = await q.orderBy("name").orderBy("language").limit(limit).execute();
  return rows.map(toRecord);
}

/** Sets a business's verified flag (raises its template cap); directory's verified event is its source. */
/** The business's verified flag as of directory's business `version`; an older version changes nothing. */
export async function setTemplateBusinessVerified(db: Kysely<MessagingDatabase>, businessId: string, verified: boolean, version: number): Promise<void> {
  await db
    .insertInto("template_business")
    .values({ business_id: businessId, verified, verified_version: version })
    .onConflict((oc) =>
      oc
        .column("business_id")
        .doUpdateSet({ verified, verified_version: version })
        .where("template_business.verified_version", "<=", String(version)),
    )
    .execute();
}

export function templateTransaction(trx: Kysely<MessagingDatabase>, enqueue: (events: OutboxEvent[]) => Promise<void>): TemplateTransaction {
  return {
    async lockBusiness(businessId) {
      await trx.insertInto("template_business").values({ business_id: businessId, verified: false }).onConflict((oc) => oc.column("business_id").doNothing()).execute();
      const { verified } = await trx.selectFrom("template_business").select("verified").where("business_id", "=", businessId).forUpdate().executeTakeFirstOrThrow();
      const { n } = await trx.selectFrom("template").select((eb) => eb.fn.countAll<string>().as("n")).where("business_id", "=", businessId).executeTakeFirstOrThrow();
      return { verified, count: Number(n) };
    },
    async exists(businessId, name, language) {
      return (await trx.selectFrom("template").select("id").where("business_id", "=", businessId).where("name", "=", name).where("language", "=", language).executeTakeFirst()) !== undefined;
    },
    async insert(t) {
      await trx.insertInto("template").values(toRow(t)).execute();
    },
    async findForUpdate(id) {
      const r = await trx.selectFrom("template").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
      return r && toRecord(r);
    },
    async update(t) {
      const { id, business_id, created_at, ...rest } = toRow(t);
      void business_id;
      void created_at;
      await trx.updateTable("template").set(rest).where("id", "=", id).execute();
    },
    async lockForDelete(businessId, by) {
      let q = trx.selectFrom("template").select(["id", "status"]).where("business_id", "=", businessId);
      if (by.id) q = q.where("id", "=", by.id);
      if (by.name) q = q.where("name", "=", by.name);
      return q.orderBy("id").forUpdate().execute();
    },
    async deleteIds(ids) {
      const r = await trx.deleteFrom("template").where("id", "in", ids).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    enqueue,
  };
}
