import { sql, type Kysely } from "kysely";
import type { ExportRow, ExportStorePort } from "../domain/export-service.js";
import type { Conversation } from "../domain/message.js";
import { marketingOf, privacyOf } from "./consent-store.js";
import { findCustomer } from "./customer-store.js";
import type { MessagingDatabase } from "./database.js";
import { toConversation, toStoredMessage } from "./message-store.js";

/**
 * A customer's conversations after `after`, oldest first. The key is
 * created_at at millisecond precision (what a JS Date holds), so the cursor a
 * page hands back compares equal to the row it came from.
 */
export async function exportConversations(db: Kysely<MessagingDatabase>, customerId: string, after: { createdAt: Date; id: string } | undefined, limit: number): Promise<Conversation[]> {
  const created = sql<Date>`date_trunc('milliseconds', created_at)`;
  let q = db
    .selectFrom("conversation")
    .select(["id", "business_id", "phone_number_id", "customer_id", "last_seq", "last_activity_at", created.as("created_at")])
    .where("customer_id", "=", customerId);
  if (after) q = q.where(sql<boolean>`(${created}, id) > (${after.createdAt}, ${after.id})`);
  const rows = await q.orderBy(created).orderBy("id").limit(limit).execute();
  return rows.map(toConversation);
}

/** One conversation's messages with seq > afterSeq, by seq (the primary key's order). */
export async function exportMessages(db: Kysely<MessagingDatabase>, conversationId: string, afterSeq: number, limit: number): Promise<ExportRow[]> {
  const rows = await db.selectFrom("message").selectAll().where("conversation_id", "=", conversationId).where("seq", ">", String(afterSeq)).orderBy("seq").limit(limit).execute();
  return rows.map((r) => ({ ...toStoredMessage(r), statusAt: r.status_at }));
}

/** The export use case's store port (domain/export-service.ts). */
export function createExportStore(db: Kysely<MessagingDatabase>): ExportStorePort {
  return {
    customer: (customerId) => findCustomer(db, { id: customerId }),
    privacy: (customerId) => privacyOf(db, customerId),
    marketing: (customerId) => marketingOf(db, customerId, undefined),
    conversations: (customerId, after, limit) => exportConversations(db, customerId, after, limit),
    messages: (conversationId, afterSeq, limit) => exportMessages(db, conversationId, afterSeq, limit),
  };
}
