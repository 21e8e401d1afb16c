import { sql, type Kysely } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import type { ChatLinkRow, NewChatLinkRow } from "./chat-link.table.js";

type Db = Kysely<DirectoryDatabase>;

/** Inserts unless the code is taken; undefined on a collision (the caller draws again). */
export async function insertChatLink(db: Db, row: NewChatLinkRow): Promise<ChatLinkRow | undefined> {
  return db
    .insertInto("chat_link")
    .values(row)
    .onConflict((oc) => oc.column("code").doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findChatLink(db: Db, code: string): Promise<ChatLinkRow | undefined> {
  return db.selectFrom("chat_link").selectAll().where("code", "=", code).executeTakeFirst();
}

/** Counts an open and returns the link, if it is active. */
export async function openChatLink(db: Db, code: string): Promise<ChatLinkRow | undefined> {
  return db
    .updateTable("chat_link")
    .set({ open_count: sql<string>`open_count + 1` })
    .where("code", "=", code)
    .where("active", "=", true)
    .returningAll()
    .executeTakeFirst();
}

export async function deactivateChatLink(db: Db, businessId: string, code: string): Promise<boolean> {
  const row = await db.updateTable("chat_link").set({ active: false }).where("code", "=", code).where("business_id", "=", businessId).returning("code").executeTakeFirst();
  return row !== undefined;
}

/** Newest first; the cursor is (created_at, code) of the last row seen. */
export async function listChatLinks(db: Db, businessId: string, limit: number, after?: { createdAt: Date; code: string }): Promise<ChatLinkRow[]> {
  let q = db.selectFrom("chat_link").selectAll().where("business_id", "=", businessId);
  if (after) q = q.where((eb) => eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("code", ">", after.code)])]));
  return q.orderBy("created_at", "desc").orderBy("code").limit(limit).execute();
}
