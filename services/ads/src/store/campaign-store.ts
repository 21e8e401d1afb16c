import type { Kysely } from "kysely";
import { isUuid } from "@kontor/service-kit/ids";
import type { AdsDatabase } from "./database.js";
import type { CampaignRow, NewCampaignRow } from "./campaign.table.js";

type Db = Kysely<AdsDatabase>;

export async function insertCampaign(db: Db, row: NewCampaignRow): Promise<CampaignRow> {
  return db.insertInto("campaign").values(row).returningAll().executeTakeFirstOrThrow();
}

/** A malformed id cannot exist: answer undefined without asking pg. */
export async function findCampaign(db: Db, id: string, forUpdate = false): Promise<CampaignRow | undefined> {
  if (!isUuid(id)) return undefined;
  let q = db.selectFrom("campaign").selectAll().where("id", "=", id);
  if (forUpdate) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function updateCampaignStatus(db: Db, id: string, status: CampaignRow["status"], review: CampaignRow["review"] | undefined, now: Date): Promise<CampaignRow> {
  return db
    .updateTable("campaign")
    .set({ status, updated_at: now, ...(review ? { review: JSON.stringify(review) } : {}) })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Newest first; the cursor is (created_at, id) of the last row seen. */
export async function listCampaigns(db: Db, businessId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<CampaignRow[]> {
  let q = db.selectFrom("campaign").selectAll().where("business_id", "=", businessId);
  if (after) {
    q = q.where((eb) => eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]));
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}

/** Every campaign that may serve, in pages by id (the serving index loads them at start). */
export async function listServable(db: Db, afterId: string | undefined, limit: number): Promise<CampaignRow[]> {
  let q = db.selectFrom("campaign").selectAll().where("status", "=", "active").where("objective", "!=", "sponsored_message");
  if (afterId) q = q.where("id", ">", afterId);
  return q.orderBy("id").limit(limit).execute();
}
