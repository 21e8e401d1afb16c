/** Media types and size limits per kind (cloud-api.md §7). */

const MB = 1024 * 1024;

const KINDS: Record<string, { kind: "audio" | "document" | "image" | "sticker" | "video"; max: number }> = {
  "audio/aac": { kind: "audio", max: 16 * MB },
  "audio/amr": { kind: "audio", max: 16 * MB },
  "audio/mpeg": { kind: "audio", max: 16 * MB },
  "audio/mp4": { kind: "audio", max: 16 * MB },
  "audio/ogg": { kind: "audio", max: 16 * MB },
  "text/plain": { kind: "document", max: 100 * MB },
  "application/pdf": { kind: "document", max: 100 * MB },
  "application/msword": { kind: "document", max: 100 * MB },
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": { kind: "document", max: 100 * MB },
  "application/vnd.ms-excel": { kind: "document", max: 100 * MB },
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { kind: "document", max: 100 * MB },
  "application/vnd.ms-powerpoint": { kind: "document", max: 100 * MB },
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": { kind: "document", max: 100 * MB },
  "image/jpeg": { kind: "image", max: 5 * MB },
  "image/png": { kind: "image", max: 5 * MB },
  // Animated stickers may be 500 KB; a static one is held to the same bound (the gateway does not parse WebP).
  "image/webp": { kind: "sticker", max: 500 * 1024 },
  "video/mp4": { kind: "video", max: 16 * MB },
  "video/3gpp": { kind: "video", max: 16 * MB },
};

/** The largest upload of any kind. */
export const MAX_MEDIA_BYTES = 100 * MB;

/** A MIME type's kind and size limit; undefined when the Cloud API does not take it. Parameters (`; codecs=opus`) are ignored. */
export function mediaKindOf(mimeType: string): { kind: string; max: number } | undefined {
  return KINDS[mimeType.split(";")[0]!.trim().toLowerCase()];
}

/** The send kinds a media id of this MIME type may be sent as (a document may carry any supported type). */
export function sendableAs(mimeType: string, sendKind: string): boolean {
  return sendKind === "document" || mediaKindOf(mimeType)?.kind === sendKind;
}
