import type { Kysely } from "kysely";
import type { GatewayDatabase } from "./tables.js";

type Db = Kysely<GatewayDatabase>;

export interface MediaRecord {
  id: string;
  partnerId: string;
  businessId: string;
  phoneNumberId: string;
  mimeType: string;
  sha256: string;
  fileSize: number;
  filename: string;
  storageKey: string;
  expiresAt: Date;
}

export async function insertMedia(db: Db, m: MediaRecord): Promise<void> {
  await db
    .insertInto("media")
    .values({ id: m.id, partner_id: m.partnerId, business_id: m.businessId, phone_number_id: m.phoneNumberId, mime_type: m.mimeType, sha256: m.sha256, file_size: m.fileSize, filename: m.filename, storage_key: m.storageKey, expires_at: m.expiresAt })
    .execute();
}

/** A media id among these businesses' own, not expired. */
export async function findMedia(db: Db, id: string, businessIds: readonly string[], now = new Date()): Promise<MediaRecord | undefined> {
  if (businessIds.length === 0 || !/^\d{1,30}$/.test(id)) return undefined;
  const r = await db.selectFrom("media").selectAll().where("id", "=", id).where("business_id", "in", businessIds).where("expires_at", ">", now).executeTakeFirst();
  return r
    ? { id: r.id, partnerId: r.partner_id, businessId: r.business_id, phoneNumberId: r.phone_number_id, mimeType: r.mime_type, sha256: r.sha256, fileSize: Number(r.file_size), filename: r.filename, storageKey: r.storage_key, expiresAt: r.expires_at }
    : undefined;
}

/** By id alone: the signed download URL has already proven access. */
export async function findMediaById(db: Db, id: string, now = new Date()): Promise<MediaRecord | undefined> {
  const r = await db.selectFrom("media").select(["business_id"]).where("id", "=", id).executeTakeFirst();
  return r ? findMedia(db, id, [r.business_id], now) : undefined;
}

export async function deleteMedia(db: Db, id: string): Promise<void> {
  await db.deleteFrom("media").where("id", "=", id).execute();
}
