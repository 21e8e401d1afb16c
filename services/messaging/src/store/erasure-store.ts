import { sql, type Kysely } from "kysely";
import type { CustomerErasure, ErasurePorts, ErasureTransaction } from "../domain/erasure-service.js";
import { ERASED_BODY_KEY_ID } from "../domain/message.js";
import type { MessagingDatabase } from "./database.js";
import type { Enqueue } from "./messaging-store.js";

/**
 * Empties the bodies of every message of the customer's conversations (sent
 * and received) that still has one: key_id ERASED_BODY_KEY_ID and no bytes,
 * read back as content_erased (domain/message.ts). Returns how many it emptied.
 */
export async function eraseBodies(db: Kysely<MessagingDatabase>, customerId: string): Promise<number> {
  const r = await sql`
    UPDATE message SET key_id = ${ERASED_BODY_KEY_ID}, body = ''::bytea
    WHERE conversation_id IN (SELECT id FROM conversation WHERE customer_id = ${customerId}) AND key_id <> ${ERASED_BODY_KEY_ID}`.execute(db);
  return Number(r.numAffectedRows ?? 0n);
}

export async function lockCustomer(trx: Kysely<MessagingDatabase>, customerId: string): Promise<{ erasedAt: Date | null } | undefined> {
  const row = await trx.selectFrom("customer").select("erased_at").where("id", "=", customerId).forUpdate().executeTakeFirst();
  return row && { erasedAt: row.erased_at };
}

/**
 * Marketing consent, privacy settings, blocks, labels, auto-reply marks, follows and order notifications of the customer. Its
 * reports stay (the business's quality record) without the words it wrote.
 */
export async function deleteCustomerData(trx: Kysely<MessagingDatabase>, customerId: string): Promise<void> {
  await trx.deleteFrom("marketing_consent").where("customer_id", "=", customerId).execute();
  await trx.deleteFrom("customer_privacy").where("customer_id", "=", customerId).execute();
  await trx.deleteFrom("customer_block").where("customer_id", "=", customerId).execute();
  // Business numbers' blocks of the customer (block_users) name it too.
  await trx.deleteFrom("user_block").where("customer_id", "=", customerId).execute();
  // Labels businesses put on the customer describe it too.
  await trx.deleteFrom("customer_label").where("customer_id", "=", customerId).execute();
  // When greeting and away messages went to the customer: a trace of its contacts.
  await trx.deleteFrom("auto_reply_sent").where("customer_id", "=", customerId).execute();
  // Which businesses it follows (directory deletes its own copy on the same event).
  await trx.deleteFrom("customer_follow").where("customer_id", "=", customerId).execute();
  // What it was told of its orders.
  await trx.deleteFrom("order_notification").where("customer_id", "=", customerId).execute();
  await trx.updateTable("business_report").set({ comment: "" }).where("customer_id", "=", customerId).where("comment", "<>", "").execute();
}

/** Keeps the id (conversations name it) and nothing that identifies the person. */
export async function anonymizeCustomer(trx: Kysely<MessagingDatabase>, customerId: string, at: Date): Promise<void> {
  await trx
    .updateTable("customer")
    .set({ e164: null, profile_name: "", locale: "", read_receipts: true, erased_at: at, updated_at: at })
    .where("id", "=", customerId)
    .execute();
}

export async function recordCustomerErasure(trx: Kysely<MessagingDatabase>, e: CustomerErasure): Promise<void> {
  await trx
    .insertInto("customer_erasure")
    .values({ customer_id: e.customerId, erased_by: e.erasedBy, reason: e.reason, erased_messages: String(e.erasedMessages), erased_at: e.at })
    .execute();
}

/** The erasure use case's store port (domain/erasure-service.ts). */
export function createErasureStore(db: Kysely<MessagingDatabase>, enqueue: Enqueue): ErasurePorts["store"] {
  return {
    erasureTransaction<T>(work: (tx: ErasureTransaction) => Promise<T>): Promise<T> {
      return db.transaction().execute((trx) =>
        work({
          lockCustomer: (customerId) => lockCustomer(trx, customerId),
          eraseBodies: (customerId) => eraseBodies(trx, customerId),
          deleteCustomerData: (customerId) => deleteCustomerData(trx, customerId),
          anonymize: (customerId, at) => anonymizeCustomer(trx, customerId, at),
          record: (e) => recordCustomerErasure(trx, e),
          enqueue: (events) => enqueue(trx, events),
        }),
      );
    },
    eraseBodies: (customerId) => eraseBodies(db, customerId),
  };
}
