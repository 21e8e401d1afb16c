import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import multipart from "@fastify/multipart";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Kysely } from "kysely";
import { GraphError, invalidParameter, unknownObject } from "../domain/graph-error.js";
import { MAX_MEDIA_BYTES, mediaKindOf } from "../domain/media-kinds.js";
import { newNumericId } from "../domain/partners.js";
import { MediaTooLarge, type MediaStore } from "../media/media-store.js";
import { deleteMedia, findMedia, findMediaById, insertMedia, type MediaRecord } from "../store/media-records.js";
import type { GatewayDatabase } from "../store/tables.js";
import { baseUrl, numberOf, ok, partnerWith } from "./server.js";
import { idParams } from "./schemas.js";

/** Uploaded media are kept this long (cloud-api.md §7: 30 days). */
const MEDIA_TTL_MS = 30 * 24 * 3600 * 1000;
/** A retrieved URL works this long (§7: 5 minutes). */
const URL_TTL_S = 300;

export interface MediaDeps {
  db: Kysely<GatewayDatabase>;
  store: MediaStore;
  /** Signs download URLs (derived from the gateway's signing key). */
  urlKey: Buffer;
  publicUrl: string;
}

export function mediaUrlKey(signingJwk: string): Buffer {
  const d = (JSON.parse(signingJwk) as { d: string }).d;
  return createHash("sha256").update(`kontor-gateway-media-url:${d}`).digest();
}

const sign = (key: Buffer, id: string, expires: number) => createHmac("sha256", key).update(`${id}.${expires}`).digest("base64url");

/** `GET /{media-id}`'s answer, with a download URL signed for 5 minutes. */
export function mediaNode(req: FastifyRequest, deps: MediaDeps, m: MediaRecord) {
  const expires = Math.floor(Date.now() / 1000) + URL_TTL_S;
  const url = `${baseUrl(req, deps.publicUrl)}/media_download/${m.id}?expires=${expires}&signature=${sign(deps.urlKey, m.id, expires)}`;
  return { messaging_product: "whatsapp", url, mime_type: m.mimeType, sha256: m.sha256, file_size: String(m.fileSize), id: m.id };
}

/** A media id of the calling partner's businesses; `phone_number_id`, when given, must be the uploading number. */
export async function partnerMedia(req: FastifyRequest, db: Kysely<GatewayDatabase>, id: string): Promise<MediaRecord | undefined> {
  const p = req.partner;
  if (!p) return undefined;
  const m = await findMedia(db, id, p.businesses.map((b) => b.businessId));
  if (!m) return undefined;
  partnerWith(req, "whatsapp_business_messaging");
  const scope = req.params_.phone_number_id;
  if (scope !== undefined && String(scope) !== m.phoneNumberId) throw unknownObject(id, req.method);
  return m;
}

/**
 * Media (cloud-api.md §7): upload (multipart: `file`, `messaging_product`,
 * `type` as form fields or in the query), `GET /{media-id}` (with the other
 * GET /{id} nodes, management-routes), the bytes through a short-lived signed
 * URL, `DELETE /{media-id}`. Bytes in the MediaStore, metadata in `media`.
 */
export async function registerMediaRoutes(app: FastifyInstance, deps: MediaDeps): Promise<void> {
  const { db, store } = deps;
  await app.register(multipart, { limits: { fileSize: MAX_MEDIA_BYTES, files: 1, fields: 10, fieldSize: 1024, parts: 12 }, throwFileSizeLimit: true });

  app.post("/:id/media", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const { partner, number } = await numberOf(db, req, id, "whatsapp_business_messaging");
    if (!req.isMultipart()) throw invalidParameter("file", "must be sent as multipart/form-data");
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.params_)) fields[k] = String(v);
    const mediaId = newNumericId();
    const key = `${number.businessId}/${mediaId}`;
    let stored: { size: number; sha256: string; mimeType: string; filename: string } | undefined;
    try {
      for await (const part of req.parts()) {
        if (part.type !== "file") {
          fields[part.fieldname] = String(part.value);
          continue;
        }
        if (part.fieldname !== "file") {
          part.file.resume();
          throw invalidParameter(part.fieldname, "is not a known parameter");
        }
        const mimeType = (fields.type || part.mimetype || "").trim();
        const kind = mediaKindOf(mimeType);
        if (!kind) {
          part.file.resume();
          throw new GraphError(131053, `Media type ${mimeType.slice(0, 100) || "(none)"} is not supported.`);
        }
        const r = await store.put(key, part.file, mimeType, kind.max);
        stored = { ...r, mimeType: mimeType.split(";")[0]!.toLowerCase(), filename: part.filename ?? "" };
      }
      for (const k of Object.keys(fields)) if (!["messaging_product", "type", "file"].includes(k)) throw invalidParameter(k, "is not a known parameter");
      if (!fields.messaging_product) throw new GraphError(131008, "Parameter messaging_product is required.");
      if (fields.messaging_product !== "whatsapp") throw invalidParameter("messaging_product", 'must be "whatsapp"');
      if (!stored) throw new GraphError(131008, "Parameter file is required.");
      if (stored.size === 0) throw new GraphError(131053, "The file is empty.");
      await insertMedia(db, { id: mediaId, partnerId: partner.partnerId, businessId: number.businessId, phoneNumberId: number.phoneNumberId, mimeType: stored.mimeType, sha256: stored.sha256, fileSize: stored.size, filename: stored.filename, storageKey: key, expiresAt: new Date(Date.now() + MEDIA_TTL_MS) });
    } catch (err) {
      await store.delete(key).catch(() => undefined);
      if (err instanceof MediaTooLarge) throw new GraphError(131053, `The file is larger than ${err.maxBytes} bytes, the limit for its type.`);
      const code = (err as { code?: string }).code;
      if (code === "FST_REQ_FILE_TOO_LARGE") throw new GraphError(131053, `The file is larger than ${MAX_MEDIA_BYTES} bytes.`);
      if (code === "FST_FILES_LIMIT" || code === "FST_PARTS_LIMIT" || code === "FST_FIELDS_LIMIT") throw invalidParameter("file", "only one file and a few fields are accepted");
      if (code === "FST_INVALID_MULTIPART_CONTENT_TYPE" || code === "FST_PROTO_VIOLATION") throw invalidParameter("body", "is not valid multipart/form-data");
      throw err;
    }
    return ok(reply, { id: mediaId });
  });

  app.delete("/:id", { schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const m = await partnerMedia(req, db, id);
    if (!m) throw unknownObject(id, req.method);
    await deleteMedia(db, m.id);
    await store.delete(m.storageKey);
    return ok(reply, { success: true });
  });

  // The URL is the credential (signed, 5 minutes), as Graph's lookaside URLs; a bearer token sent along is ignored.
  app.get("/media_download/:id", { config: { public: true }, schema: { params: idParams } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const q = req.query as { expires?: string; signature?: string };
    const expires = Number(q.expires);
    const given = Buffer.from(String(q.signature ?? ""));
    const expected = Buffer.from(Number.isSafeInteger(expires) ? sign(deps.urlKey, id, expires) : "");
    const valid = given.length === expected.length && expected.length > 0 && timingSafeEqual(given, expected) && expires * 1000 > Date.now();
    const m = valid ? await findMediaById(db, id) : undefined;
    const file = m ? await store.get(m.storageKey) : undefined;
    if (!m || !file) return reply.code(404).header("content-type", "application/json; charset=UTF-8").send(new GraphError(100, "The URL has expired or does not name media.", { http: 404 }).toBody());
    return reply.code(200).header("content-type", m.mimeType).header("content-length", String(file.size)).send(file.body);
  });
}
