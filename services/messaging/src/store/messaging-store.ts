import type { ConversationFilter } from "../domain/message.js";
import type { Kysely } from "kysely";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { AdminTransaction } from "../domain/admin-service.js";
import type { ReceiptTransaction } from "../domain/receipt-service.js";
import { findCustomer, findCustomers, upsertCustomer } from "./customer-store.js";
import type { MessagingDatabase } from "./database.js";
import * as messages from "./message-store.js";
import * as templates from "./template-store.js";
import type { TemplateCursor, TemplateFilter, TemplateTransaction } from "../domain/templates/template-service.js";

/** The kit's outbox write: events committed with the transaction that produced them. */
export type Enqueue = (trx: Kysely<MessagingDatabase>, events: OutboxEvent[]) => Promise<void>;

/**
 * The store as the use cases see it (each takes the part it names in its
 * ports): reads on the pool, and transactions whose writes and events
 * commit together. The send path writes through the send writer instead.
 */
export function createMessagingStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue) {
  return {
    findCustomer: (by: { id: string } | { e164: string }) => findCustomer(db, by),
    findCustomers: (by: { ids: string[] } | { e164s: string[] }) => findCustomers(db, by),
    findMessage: (id: string) => messages.findMessage(db, id),
    findConversation: (id: string) => messages.findConversation(db, id),
    readInbox: (participant: string, after: number, before: number | undefined, limit: number) => messages.readInbox(db, participant, after, before, limit),
    inboxHeads: (participants: string[]) => messages.inboxHeads(db, participants),
    listConversations: (side: "customer" | "business", id: string, after: { t: Date; id: string } | undefined, limit: number, filter: ConversationFilter) =>
      messages.listConversations(db, side, id, after, limit, filter),
    listMessages: (conversationId: string, afterSeq: number | undefined, newestFirst: boolean, limit: number) =>
      messages.listMessages(db, conversationId, afterSeq, newestFirst, limit),
    countByKey: (keyIds: number[]) => messages.countByKey(db, keyIds),
    findTemplate: (id: string) => templates.findTemplate(db, id),
    listTemplates: (businessId: string, filter: TemplateFilter, after: TemplateCursor | undefined, limit: number) => templates.listTemplates(db, businessId, filter, after, limit),
    templateTransaction<T>(work: (tx: TemplateTransaction) => Promise<T>): Promise<T> {
      return db.transaction().execute((trx) => work(templates.templateTransaction(trx, (events) => enqueue(trx, events))));
    },

    transaction<T>(work: (tx: ReceiptTransaction & AdminTransaction) => Promise<T>): Promise<T> {
      return db.transaction().execute((trx) =>
        work({
          applyReceipt: (conversationId, reader, side, status, upToSeq, moveReadMark) => messages.applyReceipt(trx, conversationId, reader, side, status, upToSeq, moveReadMark),
          failMessage: (id, errorCode) => messages.failMessage(trx, id, errorCode),
          upsertCustomer: (c) => upsertCustomer(trx, c),
          enqueue: (events) => enqueue(trx, events),
        }),
      );
    },
  };
}

export type MessagingStore = ReturnType<typeof createMessagingStore>;
