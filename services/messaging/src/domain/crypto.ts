import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomFillSync, type KeyObject } from "node:crypto";
import { DataCorrupted, PolicyRefused } from "@kontor/service-kit/errors";

/**
 * Encryption at rest: every business has a data key (AES-256-GCM) wrapped by
 * the master key from config. Blob layout: version(1) | iv(12) | tag(16) | ciphertext.
 * The message id is the AAD, so a body cannot be moved to another row.
 */
const VERSION = 1;
const IV = 12;
const TAG = 16;

export function parseMasterKey(base64: string): Buffer {
  const key = Buffer.from(base64, "base64");
  if (key.length !== 32) throw new Error("MESSAGE_MASTER_KEY must decode to 32 bytes");
  return key;
}

// IVs come from a pre-filled pool: one getrandom call per 4096 messages, not per message.
let ivPool = Buffer.alloc(0);
let ivOffset = 0;
function nextIv(): Buffer {
  if (ivOffset + IV > ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafe(IV * 4096));
    ivOffset = 0;
  }
  const iv = ivPool.subarray(ivOffset, ivOffset + IV);
  ivOffset += IV;
  return iv;
}

/** key: a KeyObject for keys used per message (imported once: ~20% cheaper per seal than raw bytes). */
export function seal(key: KeyObject | Buffer, plaintext: Uint8Array, aad: Buffer): Buffer {
  const iv = nextIv();
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad);
  const first = cipher.update(plaintext);
  const last = cipher.final();
  const out = Buffer.allocUnsafe(1 + IV + TAG + first.length + last.length);
  out[0] = VERSION;
  iv.copy(out, 1);
  cipher.getAuthTag().copy(out, 1 + IV);
  first.copy(out, 1 + IV + TAG);
  last.copy(out, 1 + IV + TAG + first.length);
  return out;
}

/**
 * Decrypts a blob. A blob that is not ours, or whose GCM tag does not verify
 * (altered bytes, another row's body, another key), is DataCorrupted: only a
 * destroyed key means "erased", and that is the caller's to know (openBody).
 */
export function open(key: KeyObject | Buffer, blob: Uint8Array, aad: Buffer): Buffer {
  const buf = Buffer.isBuffer(blob) ? blob : Buffer.from(blob);
  if (buf[0] !== VERSION || buf.length < 1 + IV + TAG) throw new DataCorrupted("a stored body has an unknown ciphertext format");
  const decipher = createDecipheriv("aes-256-gcm", key, buf.subarray(1, 1 + IV));
  decipher.setAAD(aad);
  decipher.setAuthTag(buf.subarray(1 + IV, 1 + IV + TAG));
  const first = decipher.update(buf.subarray(1 + IV + TAG));
  try {
    return Buffer.concat([first, decipher.final()]);
  } catch {
    throw new DataCorrupted("a stored body failed its authentication tag");
  }
}

/**
 * A message body under its data key: undefined when the key was erased
 * (crypto-shredded), the plaintext otherwise; a body that does not verify
 * under a key that exists throws DataCorrupted, never reads as erased.
 */
export function openBody(key: KeyObject | null, blob: Uint8Array, aad: Buffer): Buffer | undefined {
  if (key === null) return undefined;
  return open(key, blob, aad);
}

const WRAP_AAD = Buffer.from("kontor-messaging-data-key");

export function newDataKey(): Buffer {
  return randomBytes(32);
}

export function wrapKey(master: Buffer, dataKey: Buffer): Buffer {
  return seal(master, dataKey, WRAP_AAD);
}

export function unwrapKey(master: Buffer, wrapped: Uint8Array): Buffer {
  return open(master, wrapped, WRAP_AAD);
}

/** Key for deterministic message ids, derived from the master key so every replica agrees. */
export function deriveIdKey(master: Buffer): Buffer {
  return createHmac("sha256", master).update("kontor-messaging-message-id").digest();
}

/**
 * The server id. With a client message id it is a MAC of (sender, recipient,
 * client id): a retry maps to the same id on any replica, so the unique id
 * index doubles as the idempotency check. Without one it is random.
 */
export function messageIdFor(idKey: Buffer, senderKey: string, recipientKey: string, clientMessageId: string): string {
  if (!clientMessageId) return `wamid.${randomBytes(16).toString("base64url")}`;
  const mac = createHmac("sha256", idKey).update(`${senderKey}\n${recipientKey}\n${clientMessageId}`).digest();
  return `wamid.${mac.subarray(0, 16).toString("base64url")}`;
}

/** Sealing for an erased business: its data key is destroyed, so nothing more is stored for it. */
export function keyErasedRefusal(): PolicyRefused {
  return new PolicyRefused("BUSINESS_KEY_ERASED", "the business's message key was erased; messages to or from it are no longer stored");
}
