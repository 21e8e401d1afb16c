import { sql, type Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { LabelRecord, QuickReplyRecord, ToolsTransaction } from "../domain/tools/tools-service.js";
import type { MessagingDatabase } from "./database.js";

type Enqueue = (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>;

const toQuickReply = (r: { id: string; business_id: string; shortcut: string; text: string; media_id: string; created_at: Date; updated_at: Date }): QuickReplyRecord => ({
  id: r.id,
  businessId: r.business_id,
  shortcut: r.shortcut,
  text: r.text,
  mediaId: r.media_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toLabel = (r: { id: string; business_id: string; name: string; color: string; created_at: Date }): LabelRecord => ({ id: r.id, businessId: r.business_id, name: r.name, color: r.color, createdAt: r.created_at });

function toolsTransaction(trx: Kysely<MessagingDatabase>, enqueue: Enqueue): ToolsTransaction {
  return {
    async lockBusiness(businessId) {
      // One advisory lock per business and purpose: counts and unique names are checked under it.
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`tools:${businessId}`}, 0))`.execute(trx);
    },
    async countQuickReplies(businessId) {
      const r = await trx.selectFrom("quick_reply").select((eb) => eb.fn.countAll<string>().as("n")).where("business_id", "=", businessId).executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async insertQuickReply(q) {
      await trx.insertInto("quick_reply").values({ id: q.id, business_id: q.businessId, shortcut: q.shortcut, text: q.text, media_id: q.mediaId, created_at: q.createdAt, updated_at: q.updatedAt }).execute();
    },
    async updateQuickReply(q) {
      await trx.updateTable("quick_reply").set({ shortcut: q.shortcut, text: q.text, media_id: q.mediaId, updated_at: q.updatedAt }).where("id", "=", q.id).where("business_id", "=", q.businessId).execute();
    },
    async findQuickReply(businessId, id) {
      const r = await trx.selectFrom("quick_reply").selectAll().where("id", "=", id).where("business_id", "=", businessId).executeTakeFirst();
      return r && toQuickReply(r);
    },
    async shortcutTaken(businessId, shortcut, exceptId) {
      let q = trx.selectFrom("quick_reply").select("id").where("business_id", "=", businessId).where("shortcut", "=", shortcut);
      if (exceptId) q = q.where("id", "<>", exceptId);
      return (await q.executeTakeFirst()) !== undefined;
    },
    async deleteQuickReply(businessId, id) {
      const r = await trx.deleteFrom("quick_reply").where("id", "=", id).where("business_id", "=", businessId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async countLabels(businessId) {
      const r = await trx.selectFrom("label").select((eb) => eb.fn.countAll<string>().as("n")).where("business_id", "=", businessId).executeTakeFirstOrThrow();
      return Number(r.n);
    },
    async labelNameTaken(businessId, name, exceptId) {
      let q = trx.selectFrom("label").select("id").where("business_id", "=", businessId).where(sql`lower(name)`, "=", name.toLowerCase());
      if (exceptId) q = q.where("id", "<>", exceptId);
      return (await q.executeTakeFirst()) !== undefined;
    },
    async insertLabel(l) {
      await trx.insertInto("label").values({ id: l.id, business_id: l.businessId, name: l.name, color: l.color, created_at: l.createdAt }).execute();
    },
    async findLabel(businessId, id) {
      const r = await trx.selectFrom("label").selectAll().where("id", "=", id).where("business_id", "=", businessId).executeTakeFirst();
      return r && toLabel(r);
    },
    async updateLabel(l) {
      await trx.updateTable("label").set({ name: l.name, color: l.color }).where("id", "=", l.id).where("business_id", "=", l.businessId).execute();
    },
    async deleteLabel(businessId, id) {
      const r = await trx.deleteFrom("label").where("id", "=", id).where("business_id", "=", businessId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async labelsOf(businessId, ids) {
      const rows = await trx.selectFrom("label").select("id").where("business_id", "=", businessId).where("id", "in", ids).execute();
      return rows.map((r) => r.id);
    },
    async findConversationForUpdate(id) {
      const r = await trx.selectFrom("conversation").select(["id", "business_id", "phone_number_id", "customer_id", "assigned_agent_id"]).where("id", "=", id).forUpdate().executeTakeFirst();
      return r && { id: r.id, businessId: r.business_id, phoneNumberId: r.phone_number_id, customerId: r.customer_id, assignedAgentId: r.assigned_agent_id ?? "" };
    },
    async setConversationLabels(conversationId, add, remove) {
      if (remove.length > 0) await trx.deleteFrom("conversation_label").where("conversation_id", "=", conversationId).where("label_id", "in", remove).execute();
      const adding = add.filter((id) => !remove.includes(id));
      if (adding.length > 0) await trx.insertInto("conversation_label").values(adding.map((label_id) => ({ conversation_id: conversationId, label_id }))).onConflict((oc) => oc.doNothing()).execute();
      const rows = await trx.selectFrom("conversation_label").select("label_id").where("conversation_id", "=", conversationId).orderBy("label_id").execute();
      return rows.map((r) => r.label_id);
    },
    async setCustomerLabels(businessId, customerId, add, remove) {
      if (remove.length > 0) await trx.deleteFrom("customer_label").where("business_id", "=", businessId).where("customer_id", "=", customerId).where("label_id", "in", remove).execute();
      const adding = add.filter((id) => !remove.includes(id));
      if (adding.length > 0) {
        await trx.insertInto("customer_label").values(adding.map((label_id) => ({ business_id: businessId, customer_id: customerId, label_id }))).onConflict((oc) => oc.doNothing()).execute();
      }
      const rows = await trx.selectFrom("customer_label").select("label_id").where("business_id", "=", businessId).where("customer_id", "=", customerId).orderBy("label_id").execute();
      return rows.map((r) => r.label_id);
    },
    async assign(conversationId, agentId, at) {
      await trx.updateTable("conversation").set({ assigned_agent_id: agentId || null, assigned_at: agentId ? at : null }).where("id", "=", conversationId).execute();
    },
    enqueue: (events) => enqueue(trx, events),
  };
}

/** The business tools' store port (domain/tools/tools-service.ts). */
export function createToolsStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue) {
  return {
    transaction: <T>(work: (tx: ToolsTransaction) => Promise<T>) => db.transaction().execute((trx) => work(toolsTransaction(trx, enqueue))),
    async listQuickReplies(businessId: string) {
      return (await db.selectFrom("quick_reply").selectAll().where("business_id", "=", businessId).orderBy("shortcut").execute()).map(toQuickReply);
    },
    async listLabels(businessId: string) {
      return (await db.selectFrom("label").selectAll().where("business_id", "=", businessId).orderBy(sql`lower(name)`).execute()).map(toLabel);
    },
    async customerExists(customerId: string) {
      return (await db.selectFrom("customer").select("id").where("id", "=", customerId).where("erased_at", "is", null).executeTakeFirst()) !== undefined;
    },
  };
}
