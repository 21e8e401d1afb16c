import { sql, type Kysely } from "kysely";
import type { AutoReplyKind, AutoReplySettings, AutoReplyStore, OpeningHours } from "../domain/tools/auto-replies.js";
import type { MessagingDatabase } from "./database.js";

type Db = Kysely<MessagingDatabase>;

type StoredSettings = Omit<AutoReplySettings, "updatedAt" | "phoneNumberId">;

/** The automatic answers' store port (domain/tools/auto-replies.ts); reads take the consumer's transaction. */
export function createAutoReplyStore(db: Db): AutoReplyStore<Db> & {
  /** Keeps a business's hours from a directory snapshot unless a newer one is stored. */
  applyHours(businessId: string, hours: OpeningHours | undefined, version: number, at: Date): Promise<void>;
} {
  return {
    async get(phoneNumberId, trx = db) {
      const r = await trx.selectFrom("auto_reply_settings").select(["business_id", "settings", "updated_at"]).where("phone_number_id", "=", phoneNumberId).executeTakeFirst();
      if (!r) return undefined;
      const s = r.settings as StoredSettings;
      return { phoneNumberId, businessId: r.business_id, greeting: s.greeting, greetingSilenceDays: s.greetingSilenceDays, away: s.away, updatedAt: r.updated_at };
    },

    async set(businessId, s, at) {
      const settings: StoredSettings = { greeting: s.greeting, greetingSilenceDays: s.greetingSilenceDays, away: s.away };
      const json = JSON.stringify(settings);
      // A number belongs to one business; a row left by a former owner is replaced.
      await db
        .insertInto("auto_reply_settings")
        .values({ phone_number_id: s.phoneNumberId, business_id: businessId, settings: json, updated_at: at })
        .onConflict((oc) => oc.column("phone_number_id").doUpdateSet({ business_id: businessId, settings: json, updated_at: at }))
        .execute();
      return { ...s, updatedAt: at };
    },

    async facts(m, trx) {
      // Serializes the decisions of one customer's messages to the number, whichever replica takes them.
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`auto-reply:${m.phoneNumberId}:${m.customerId}`}, 0))`.execute(trx);
      const [previous, sent, conversation, hours] = await Promise.all([
        trx.selectFrom("message").select("created_at").where("conversation_id", "=", m.conversationId).where("seq", "<", String(m.seq)).orderBy("seq", "desc").limit(1).executeTakeFirst(),
        trx.selectFrom("auto_reply_sent").select(["kind", "sent_at"]).where("phone_number_id", "=", m.phoneNumberId).where("customer_id", "=", m.customerId).execute(),
        trx.selectFrom("conversation").select("assigned_agent_id").where("id", "=", m.conversationId).executeTakeFirst(),
        trx.selectFrom("business_hours").select("hours").where("business_id", "=", m.businessId).executeTakeFirst(),
      ]);
      const lastSent: Partial<Record<AutoReplyKind, number>> = {};
      for (const r of sent) lastSent[r.kind as AutoReplyKind] = r.sent_at.getTime();
      return {
        previousAt: previous?.created_at.getTime(),
        lastSent,
        hours: (hours?.hours ?? undefined) as OpeningHours | undefined,
        assigned: !!conversation?.assigned_agent_id,
      };
    },

    async markSent(phoneNumberId, customerId, kind, at, trx) {
      await trx
        .insertInto("auto_reply_sent")
        .values({ phone_number_id: phoneNumberId, customer_id: customerId, kind, sent_at: at })
        .onConflict((oc) => oc.columns(["phone_number_id", "customer_id", "kind"]).doUpdateSet({ sent_at: at }))
        .execute();
    },

    async applyHours(businessId, hours, version, at) {
      const json = hours ? JSON.stringify(hours) : null;
      await db
        .insertInto("business_hours")
        .values({ business_id: businessId, hours: json, version: String(version), updated_at: at })
        .onConflict((oc) => oc.column("business_id").doUpdateSet({ hours: json, version: String(version), updated_at: at }).where("business_hours.version", "<", String(version)))
        .execute();
    },
  };
}
