import { sql, type Kysely } from "kysely";
import { fold, templateLookups, type AnalyticsEvent, type Delta, type TemplateMessages } from "../domain/tools/analytics.js";
import type { MessagingDatabase } from "./database.js";

/** A broadcast message's client id (broadcast:<id>:<index>), which names its recipient. */
const BROADCAST_CLIENT_ID = "^broadcast:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]{1,18}$";
/** MessageStatus numbers of the funnel's steps (recipient.reached). */
const DELIVERED = 3;
const READ = 4;

/** The analytics consumer's name in processed_events (its dedupe). */
export const ANALYTICS_CONSUMER = "messaging-analytics";

/** How long a template message's template is kept for its statuses and taps (a status or tap later than this is not counted for the template). */
export const TEMPLATE_MESSAGE_KEEP_DAYS = 35;

/** Analytics' store: one transaction per batch of events, each event counted once whatever redelivers it. */
export function createAnalyticsStore(db: Kysely<MessagingDatabase>) {
  return {
    async applyBatch(events: AnalyticsEvent[]): Promise<void> {
      if (events.length === 0) return;
      await db.transaction().execute(async (trx) => {
        const fresh = await sql<{ event_id: string }>`
          INSERT INTO processed_events (consumer, event_id) SELECT ${ANALYTICS_CONSUMER}, unnest(${events.map((e) => e.eventId)}::text[])
          ON CONFLICT DO NOTHING RETURNING event_id`.execute(trx);
        const firstTime = new Set(fresh.rows.map((r) => r.event_id));
        const todo = events.filter((e) => firstTime.has(e.eventId));
        if (todo.length === 0) return;
        const conversations = [...new Set(todo.flatMap((e) => (e.kind === "status" || e.kind === "received" ? [e.conversationId] : [])))].sort();
        const awaiting = new Map<string, number>();
        if (conversations.length > 0) {
          const rows = await sql<{ conversation_id: string; since: Date }>`
            SELECT conversation_id, since FROM analytics_awaiting WHERE conversation_id = ANY(${conversations}::text[]) ORDER BY conversation_id FOR UPDATE`.execute(trx);
          for (const r of rows.rows) awaiting.set(r.conversation_id, r.since.getTime());
        }
        const before = new Set(awaiting.keys());
        // Template messages: those sent in this batch are learnt by fold; earlier ones are read.
        const templates: TemplateMessages = new Map();
        const lookups = templateLookups(todo);
        if (lookups.length > 0) {
          const rows = await trx.selectFrom("analytics_template_message").select(["message_id", "template_name"]).where("message_id", "in", lookups).execute();
          for (const r of rows) templates.set(r.message_id, r.template_name);
        }
        const sentTemplates = todo.flatMap((e) => (e.kind === "billed" && e.templateName && e.messageId ? [{ message_id: e.messageId, template_name: e.templateName, sent_at: new Date(e.at) }] : []));
        if (sentTemplates.length > 0) {
          await trx.insertInto("analytics_template_message").values(sentTemplates).onConflict((oc) => oc.column("message_id").doNothing()).execute();
          // Now and then, forget template messages too old to matter (one indexed range delete).
          if (Math.random() < 0.01) await sql`DELETE FROM analytics_template_message WHERE sent_at < now() - make_interval(days => ${TEMPLATE_MESSAGE_KEEP_DAYS})`.execute(trx);
        }
        // The broadcast funnel: a tap on a broadcast message's button (the recipient's first click), and how far
        // the message got (DELIVERED or READ). The message's client id (broadcast:<id>:<index>) names its recipient.
        const funnel = todo.flatMap((e): { id: string; at: string | null; s: number }[] =>
          e.kind === "received" && e.buttonReplyTo
            ? [{ id: e.buttonReplyTo, at: new Date(e.at).toISOString(), s: 0 }]
            : e.kind === "status" && e.broadcast && e.fromBusiness && e.messageId && (e.status === "delivered" || e.status === "read")
              ? [{ id: e.messageId, at: null, s: e.status === "read" ? READ : DELIVERED }]
              : [],
        );
        if (funnel.length > 0) {
          await sql`
            UPDATE broadcast_recipient r SET clicked_at = coalesce(r.clicked_at, t.at), reached = greatest(r.reached, t.s)
            FROM (
              SELECT m.id, split_part(m.client_message_id, ':', 2)::uuid AS b, split_part(m.client_message_id, ':', 3)::bigint AS i, min(u.at) AS at, max(u.s) AS s
              FROM unnest(${funnel.map((f) => f.id)}::text[], ${funnel.map((f) => f.at)}::timestamptz[], ${funnel.map((f) => f.s)}::smallint[]) AS u(id, at, s)
                JOIN message m ON m.id = u.id
              WHERE m.client_message_id ~ ${BROADCAST_CLIENT_ID}
              GROUP BY 1, 2, 3) t
            WHERE r.broadcast_id = t.b AND r.idx = t.i AND r.message_id = t.id AND r.state = 2
              AND ((r.clicked_at IS NULL AND t.at IS NOT NULL) OR r.reached < t.s)`.execute(trx);
        }
        // Each number's counts, and the same again for all the business's numbers together ('').
        const summed = new Map<string, Delta>();
        for (const d of fold(todo, awaiting, templates)) {
          for (const phoneNumberId of d.phoneNumberId === "" ? [""] : [d.phoneNumberId, ""]) {
            const key = `${d.businessId}\u0000${d.day}\u0000${phoneNumberId}\u0000${d.metric}`;
            const seen = summed.get(key);
            if (seen) seen.value += d.value;
            else summed.set(key, { ...d, phoneNumberId });
          }
        }
        const deltas = [...summed.values()].sort((a, b) => (`${a.businessId}\u0000${a.day}\u0000${a.phoneNumberId}\u0000${a.metric}` < `${b.businessId}\u0000${b.day}\u0000${b.phoneNumberId}\u0000${b.metric}` ? -1 : 1));
        if (deltas.length > 0) {
          // In key order, so concurrent batches lock rows in one order.
          await sql`
            INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value)
            SELECT b, p, d::date, m, v FROM unnest(${deltas.map((d) => d.businessId)}::text[], ${deltas.map((d) => d.phoneNumberId)}::text[], ${deltas.map((d) => d.day)}::text[], ${deltas.map((d) => d.metric)}::text[], ${deltas.map((d) => d.value)}::bigint[]) WITH ORDINALITY AS t(b, p, d, m, v, o)
            ORDER BY o
            ON CONFLICT (business_id, day, phone_number_id, metric) DO UPDATE SET value = analytics_day.value + EXCLUDED.value`.execute(trx);
        }
        const answered = [...before].filter((c) => !awaiting.has(c));
        if (answered.length > 0) await trx.deleteFrom("analytics_awaiting").where("conversation_id", "in", answered).execute();
        const waiting = [...awaiting].filter(([c]) => !before.has(c));
        if (waiting.length > 0) {
          await trx
            .insertInto("analytics_awaiting")
            .values(waiting.map(([conversation_id, since]) => ({ conversation_id, since: new Date(since) })))
            .onConflict((oc) => oc.column("conversation_id").doNothing())
            .execute();
        }
      });
    },
  };
}

export type AnalyticsStore = ReturnType<typeof createAnalyticsStore>;
