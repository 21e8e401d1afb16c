import { sql, type Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import { NO_FILTER, type Conversation, type ConversationFilter, type ConversationSummary, type MessageInConversation, type StoredMessage } from "../domain/message.js";
import { SERVICE_WINDOW_MS } from "../domain/policy/window.js";
import type { ReceiptChange } from "../domain/receipt-service.js";
import type { ConversationRow } from "./conversation.table.js";
import type { MessagingDatabase } from "./database.js";
import type { MessageRow } from "./message.table.js";

type PartiedRow = MessageRow & { phone_number_id: string; customer_id: string; business_id: string };

export function toStoredMessage(r: MessageRow): StoredMessage {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    seq: r.seq,
    sender: r.sender,
    recipient: r.recipient,
    clientMessageId: r.client_message_id,
    contentType: r.content_type,
    keyId: r.key_id,
    body: r.body,
    status: r.status,
    errorCode: r.error_code,
    createdAt: r.created_at,
  };
}

function toMessageInConversation(r: PartiedRow): MessageInConversation {
  return { ...toStoredMessage(r), businessId: r.business_id, phoneNumberId: r.phone_number_id, customerId: r.customer_id };
}

export function toConversation(r: Pick<ConversationRow, "id" | "business_id" | "phone_number_id" | "customer_id" | "last_seq" | "last_activity_at" | "created_at">): Conversation {
  return {
    id: r.id,
    businessId: r.business_id,
    phoneNumberId: r.phone_number_id,
    customerId: r.customer_id,
    lastSeq: r.last_seq,
    lastActivityAt: r.last_activity_at,
    createdAt: r.created_at,
  };
}

/**
 * A participant's inbox entries with number n in (after, before), oldest
 * first: messages to it (n = rseq) and its own sends that echo (n = sender_rseq).
 */
export async function readInbox(db: Kysely<MessagingDatabase>, participant: string, after: number, before: number | undefined, limit: number): Promise<{ n: number; message: StoredMessage }[]> {
  const upper = before ?? Number.MAX_SAFE_INTEGER;
  const rows = await sql<MessageRow & { n: string }>`
    (SELECT *, rseq AS n FROM message WHERE recipient = ${participant} AND rseq > ${after} AND rseq < ${upper} ORDER BY rseq LIMIT ${limit})
    UNION ALL
    (SELECT *, sender_rseq AS n FROM message WHERE sender = ${participant} AND sender_rseq > ${after} AND sender_rseq < ${upper} ORDER BY sender_rseq LIMIT ${limit})
    ORDER BY n LIMIT ${limit}`.execute(db);
  return rows.rows.map((r) => ({ n: Number(r.n), message: toStoredMessage(r) }));
}

/** Committed inbox heads of participants (the sweep for live publishes that never arrived). */
export async function inboxHeads(db: Kysely<MessagingDatabase>, participants: string[]): Promise<Map<string, number>> {
  if (participants.length === 0) return new Map();
  const rows = await db.selectFrom("inbox").select(["participant", "last_seq"]).where("participant", "in", participants).execute();
  return new Map(rows.map((r) => [r.participant, Number(r.last_seq)]));
}

function selectMessage(db: Kysely<MessagingDatabase>, id: string) {
  return db
    .selectFrom("message as m")
    .innerJoin("conversation as c", "c.id", "m.conversation_id")
    .selectAll("m")
    .select(["c.phone_number_id", "c.customer_id", "c.business_id"])
    .where("m.id", "=", id)
    .executeTakeFirst();
}

export async function findMessage(db: Kysely<MessagingDatabase>, id: string): Promise<MessageInConversation | undefined> {
  const row = await selectMessage(db, id);
  return row && toMessageInConversation(row);
}

export async function findConversation(db: Kysely<MessagingDatabase>, id: string): Promise<Conversation | undefined> {
  if (!isUuid(id)) return undefined;
  const row = await db.selectFrom("conversation").selectAll().where("id", "=", id).executeTakeFirst();
  return row && toConversation(row);
}

export async function listMessages(db: Kysely<MessagingDatabase>, conversationId: string, afterSeq: number | undefined, newestFirst: boolean, limit: number): Promise<StoredMessage[]> {
  let q = db.selectFrom("message").selectAll().where("conversation_id", "=", conversationId);
  if (afterSeq !== undefined) q = q.where("seq", newestFirst ? "<" : ">", String(afterSeq));
  return (await q.orderBy("seq", newestFirst ? "desc" : "asc").limit(limit).execute()).map(toStoredMessage);
}

type ConversationListRow = ConversationRow & { unread: string; counterpart_name: string; verified: boolean; label_ids: string[] | null };

/** A participant's conversations by last activity, with unread counts (messages to it after its read mark); a business's inbox filtered. */
export async function listConversations(
  db: Kysely<MessagingDatabase>,
  side: "customer" | "business",
  id: string,
  after: { t: Date; id: string } | undefined,
  limit: number,
  filter: ConversationFilter = NO_FILTER,
): Promise<ConversationSummary[]> {
  const me = side === "customer" ? `c_${id}` : `b_${id}`;
  const readCol = side === "customer" ? sql.ref("c.customer_read_seq") : sql.ref("c.business_read_seq");
  const counterpart =
    side === "customer"
      ? sql<string>`coalesce((SELECT display_name FROM business_number b WHERE b.phone_number_id = c.phone_number_id), '')`
      : sql<string>`coalesce((SELECT profile_name FROM customer u WHERE u.id = c.customer_id), '')`;
  const verified = side === "customer" ? sql<boolean>`coalesce((SELECT verified FROM business_number b WHERE b.phone_number_id = c.phone_number_id), false)` : sql<boolean>`false`;
  // The customer never sees the business's labels.
  const labels = side === "business" ? sql<string[]>`(SELECT array_agg(l.label_id::text ORDER BY l.label_id) FROM conversation_label l WHERE l.conversation_id = c.id)` : sql<string[]>`NULL::text[]`;
  const unreadExists = sql<boolean>`EXISTS (SELECT 1 FROM message m WHERE m.conversation_id = c.id AND m.seq > ${readCol} AND m.recipient = ${me})`;
  let q = db
    .selectFrom("conversation as c")
    .selectAll("c")
    .select([
      sql<string>`(SELECT count(*) FROM message m WHERE m.conversation_id = c.id AND m.seq > ${readCol} AND m.recipient = ${me})`.as("unread"),
      counterpart.as("counterpart_name"),
      verified.as("verified"),
      labels.as("label_ids"),
    ])
    .where(side === "customer" ? "c.customer_id" : "c.phone_number_id", "=", id);
  if (after) {
    q = q.where((eb) => eb.or([eb("c.last_activity_at", "<", after.t), eb.and([eb("c.last_activity_at", "=", after.t), eb("c.id", "<", after.id)])]));
  }
  if (filter.labelIds.length > 0) {
    const ids = sql.join(filter.labelIds.map((l) => sql`${l}::uuid`));
    q = q.where(
      sql<boolean>`(EXISTS (SELECT 1 FROM conversation_label cl WHERE cl.conversation_id = c.id AND cl.label_id IN (${ids}))
        OR EXISTS (SELECT 1 FROM customer_label ul WHERE ul.business_id = c.business_id AND ul.customer_id = c.customer_id AND ul.label_id IN (${ids})))`,
    );
  }
  if (filter.unreadOnly) q = q.where(unreadExists);
  if (filter.assignedAgentId) q = q.where("c.assigned_agent_id", "=", filter.assignedAgentId);
  if (filter.unassignedOnly) q = q.where("c.assigned_agent_id", "is", null);
  if (filter.window !== "any") {
    const open = sql<boolean>`coalesce(c.last_inbound_at > now() - ${`${SERVICE_WINDOW_MS} milliseconds`}::interval, false)`;
    q = q.where(filter.window === "open" ? open : sql<boolean>`NOT ${open}`);
  }
  if (filter.activeSince) q = q.where("c.last_activity_at", ">=", filter.activeSince);
  if (filter.query) {
    const like = `%${filter.query.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    q = q.where(sql<boolean>`EXISTS (SELECT 1 FROM customer u WHERE u.id = c.customer_id AND (u.profile_name ILIKE ${like} OR u.e164 LIKE ${like}))`);
  }
  const rows = (await q.orderBy("c.last_activity_at", "desc").orderBy("c.id", "desc").limit(limit).execute()) as ConversationListRow[];
  return rows.map((r) => ({ ...toConversation(r), unread: r.unread, counterpartName: r.counterpart_name, verified: r.verified, labelIds: r.label_ids ?? [], assignedAgentId: r.assigned_agent_id ?? "" }));
}

/**
 * Moves messages to the reader forward to `status` (DELIVERED or READ) up to
 * `upToSeq`; reactions get no receipts and FAILED stays FAILED. READ also
 * moves the reader's read mark (unread counts).
 */
export async function applyReceipt(
  trx: Kysely<MessagingDatabase>,
  conversationId: string,
  reader: string,
  side: "customer" | "business",
  status: number,
  upToSeq: number,
  moveReadMark: boolean,
): Promise<ReceiptChange[]> {
  const rows = await sql<{ id: string; seq: string; sender: string; key_id: number; body: Uint8Array }>`
    UPDATE message SET status = ${status}, status_at = now()
    WHERE conversation_id = ${conversationId} AND recipient = ${reader} AND seq <= ${upToSeq} AND status < ${status} AND content_type <> 5
    RETURNING id, seq, sender, key_id, body`.execute(trx);
  if (moveReadMark) {
    const col = side === "customer" ? sql.ref("customer_read_seq") : sql.ref("business_read_seq");
    await sql`UPDATE conversation SET ${col} = greatest(${col}, ${upToSeq}) WHERE id = ${conversationId}`.execute(trx);
  }
  return rows.rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map((r) => ({ id: r.id, seq: r.seq, sender: r.sender, keyId: r.key_id, body: r.body }));
}

export async function failMessage(trx: Kysely<MessagingDatabase>, id: string, errorCode: number): Promise<MessageInConversation | undefined> {
  const found = await selectMessage(trx, id);
  if (!found) return undefined;
  const rows = await sql<MessageRow>`
    UPDATE message SET status = 5, error_code = ${errorCode}, status_at = now()
    WHERE conversation_id = ${found.conversation_id} AND seq = ${found.seq} AND status < 3
    RETURNING *`.execute(trx);
  const row = rows.rows[0];
  return row ? toMessageInConversation({ ...row, phone_number_id: found.phone_number_id, customer_id: found.customer_id, business_id: found.business_id }) : undefined;
}

export async function countByKey(db: Kysely<MessagingDatabase>, keyIds: number[]): Promise<number> {
  if (keyIds.length === 0) return 0;
  const row = await db.selectFrom("message").select((eb) => eb.fn.countAll<string>().as("n")).where("key_id", "in", keyIds).executeTakeFirstOrThrow();
  return Number(row.n);
}
