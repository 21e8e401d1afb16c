import { sql, type Kysely } from "kysely";
import { parseFlow, type Flow } from "../domain/tools/flows/definition.js";
import type { Session } from "../domain/tools/flows/engine.js";
import type { FlowStore, StoredFlow } from "../domain/tools/flow-service.js";
import type { MessagingDatabase } from "./database.js";

type Db = Kysely<MessagingDatabase>;

/** The flows' store port (domain/tools/flow-service.ts); reads take the consumer's transaction when given. */
export function createFlowStore(db: Db): FlowStore<Db> {
  const toStored = (r: { definition: unknown; created_at: Date }): StoredFlow => ({ flow: parseFlow(r.definition), createdAt: r.created_at });
  return {
    async save(businessId, build, newSecret, at) {
      return db.transaction().execute(async (trx) => {
        const name = build(1).name;
        await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`flow:${businessId}:${name}`}, 0))`.execute(trx);
        const last = await trx.selectFrom("flow").select((eb) => eb.fn.max("version").as("v")).where("business_id", "=", businessId).where("name", "=", name).executeTakeFirst();
        const flow = build(Number(last?.v ?? 0) + 1);
        await trx.insertInto("flow").values({ business_id: businessId, name, version: flow.version, definition: JSON.stringify(flow), created_at: at }).execute();
        await trx
          .insertInto("flow_name")
          .values({ business_id: businessId, name, webhook_secret: newSecret, deleted_at: null })
          .onConflict((oc) => oc.columns(["business_id", "name"]).doUpdateSet({ deleted_at: null }))
          .execute();
        const secret = (await trx.selectFrom("flow_name").select("webhook_secret").where("business_id", "=", businessId).where("name", "=", name).executeTakeFirstOrThrow()).webhook_secret;
        return { stored: { flow, createdAt: at }, secret };
      });
    },

    async latest(businessId, trx = db) {
      const rows = await trx
        .selectFrom("flow as f")
        .innerJoin("flow_name as n", (j) => j.onRef("n.business_id", "=", "f.business_id").onRef("n.name", "=", "f.name"))
        .select(["f.definition", "f.created_at"])
        .where("f.business_id", "=", businessId)
        .where("n.deleted_at", "is", null)
        .where((eb) => eb("f.version", "=", eb.selectFrom("flow as g").select((g) => g.fn.max("g.version").as("m")).whereRef("g.business_id", "=", "f.business_id").whereRef("g.name", "=", "f.name")))
        .orderBy("f.name")
        .execute();
      return rows.map(toStored);
    },

    async versions(businessId, name, trx = db) {
      const rows = await trx
        .selectFrom("flow as f")
        .innerJoin("flow_name as n", (j) => j.onRef("n.business_id", "=", "f.business_id").onRef("n.name", "=", "f.name"))
        .select(["f.definition", "f.created_at"])
        .where("f.business_id", "=", businessId)
        .where("f.name", "=", name)
        .where("n.deleted_at", "is", null)
        .orderBy("f.version")
        .execute();
      return rows.map((r): Flow => toStored(r).flow);
    },

    async remove(businessId, name, at) {
      const r = await db.updateTable("flow_name").set({ deleted_at: at }).where("business_id", "=", businessId).where("name", "=", name).where("deleted_at", "is", null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async secret(businessId, name) {
      return (await db.selectFrom("flow_name").select("webhook_secret").where("business_id", "=", businessId).where("name", "=", name).executeTakeFirst())?.webhook_secret;
    },

    async session(conversationId, trx = db) {
      const r = await trx.selectFrom("flow_session").select("session").where("conversation_id", "=", conversationId).forUpdate().executeTakeFirst();
      return r ? (r.session as Session) : undefined;
    },

    async saveSession(conversationId, businessId, session, at, trx = db) {
      if (!session) {
        await trx.deleteFrom("flow_session").where("conversation_id", "=", conversationId).execute();
        return;
      }
      await trx
        .insertInto("flow_session")
        .values({ conversation_id: conversationId, business_id: businessId, session: JSON.stringify(session), updated_at: at })
        .onConflict((oc) => oc.column("conversation_id").doUpdateSet({ session: JSON.stringify(session), updated_at: at }))
        .execute();
    },
  };
}
