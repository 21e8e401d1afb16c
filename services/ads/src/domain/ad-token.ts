import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import type { BidKind } from "./campaign.js";
import { placements, type Placement } from "./targeting.js";

/** What a served ad's token proves: this impression, of this campaign, to this viewer, at this price. */
export interface AdTokenClaims {
  impressionId: string;
  campaignId: string;
  creativeId: string;
  /** "" for an anonymous viewer. */
  customerId: string;
  placement: Placement;
  servedAtMs: number;
  kind: BidKind;
  /** CPC: the click's price in minor units; CPM: the impression's in thousandths. */
  price: number;
}

const MAC_BYTES = 16;
const VERSION = 1;
/** version, impression id, campaign id, placement, kind, served at (48 bits), price (48 bits), creative id and customer id (length-prefixed). */
const FIXED = 1 + 16 + 16 + 1 + 1 + 6 + 6;
const MAX_TEXT = 255;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const scratch = Buffer.allocUnsafe(FIXED + 2 + 2 * MAX_TEXT + MAC_BYTES);

const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) keys.set(secret, (k = createSecretKey(Buffer.from(secret, "utf8"))));
  return k;
}

/** HMAC-SHA256; a token carries its first MAC_BYTES. */
function mac(secret: string, body: Uint8Array): Buffer {
  return createHmac("sha256", keyOf(secret)).update(body).digest();
}

const hexValue = (code: number): number => (code <= 57 ? code - 48 : (code | 0x20) - 87);

/** A canonical uuid's 16 bytes, read straight from its characters (no intermediate strings). */
const uuidBytes = (id: string, into: Buffer, at: number): void => {
  for (let i = 0; i < 36; ) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    into[at++] = (hexValue(id.charCodeAt(i)) << 4) | hexValue(id.charCodeAt(i + 1));
    i += 2;
  }
};
const uuidString = (b: Buffer, at: number): string => {
  const h = b.toString("hex", at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/**
 * Signed, so a click needs no lookup of its impression (which may still be
 * in another replica's unflushed batch) and cannot be forged to charge a
 * campaign or claim a price. Binary and about 100 characters: the business
 * and currency come from the campaign when the click is recorded.
 */
export function mintAdToken(secret: string, c: AdTokenClaims): string {
  const creativeLength = Buffer.byteLength(c.creativeId, "utf8");
  const customerLength = Buffer.byteLength(c.customerId, "utf8");
  if (creativeLength > MAX_TEXT || customerLength > MAX_TEXT) throw new Error("creative or customer id too long for an ad token");
  // One scratch buffer for every token (minting is synchronous): only the token string is left behind.
  const b = scratch;
  b[0] = VERSION;
  uuidBytes(c.impressionId, b, 1);
  uuidBytes(c.campaignId, b, 17);
  b[33] = placements.indexOf(c.placement);
  b[34] = c.kind === "cpm" ? 0 : 1;
  b.writeUIntBE(c.servedAtMs, 35, 6);
  b.writeUIntBE(c.price, 41, 6);
  let at = FIXED;
  b[at++] = creativeLength;
  at += b.write(c.creativeId, at, creativeLength, "utf8");
  b[at++] = customerLength;
  at += b.write(c.customerId, at, customerLength, "utf8");
  mac(secret, b.subarray(0, at)).copy(b, at, 0, MAC_BYTES);
  return b.toString("base64url", 0, at + MAC_BYTES);
}

/** The claims of a token this service signed, or undefined for anything else. */
export function verifyAdToken(secret: string, token: string): AdTokenClaims | undefined {
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const b = Buffer.from(token, "base64url");
  if (b.length < FIXED + 2 + MAC_BYTES || b[0] !== VERSION) return undefined;
  const body = b.subarray(0, b.length - MAC_BYTES);
  if (!timingSafeEqual(b.subarray(b.length - MAC_BYTES), mac(secret, body).subarray(0, MAC_BYTES))) return undefined;
  const placement = placements[b[33]!];
  const kind = b[34] === 0 ? "cpm" : b[34] === 1 ? "cpc" : undefined;
  let at = FIXED;
  const creativeLength = b[at++]!;
  const creativeId = b.toString("utf8", at, (at += creativeLength));
  const customerLength = b[at++];
  if (customerLength === undefined || at + customerLength !== body.length || !placement || !kind) return undefined;
  const customerId = b.toString("utf8", at, at + customerLength);
  const impressionId = uuidString(b, 1);
  const campaignId = uuidString(b, 17);
  if (!UUID.test(impressionId) || !UUID.test(campaignId)) return undefined;
  return { impressionId, campaignId, creativeId, customerId, placement, servedAtMs: b.readUIntBE(35, 6), kind, price: b.readUIntBE(41, 6) };
}

/**
 * Impression ids: UUIDv7 layout (48-bit milliseconds, a 12-bit sequence
 * within the millisecond, 62 bits fixed per process at random), so a batch's
 * ids are ascending (the primary key's index grows at its right edge) and
 * making one costs no random bytes. Unique across replicas by the random
 * part; within a process by time and sequence (ids never go backwards).
 */
export function createImpressionIds() {
  const node = randomBytes(8);
  node[0] = (node[0]! & 0x3f) | 0x80;
  const tail = `${node.toString("hex", 0, 2)}-${node.toString("hex", 2)}`;
  let lastMs = 0;
  let seq = 0;
  // The time part is made once per millisecond.
  let prefixMs = -1;
  let prefix = "";
  return (nowMs: number): string => {
    if (nowMs > lastMs) {
      lastMs = nowMs;
      seq = 0;
    } else if (++seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
    if (lastMs !== prefixMs) {
      prefixMs = lastMs;
      const t = lastMs.toString(16).padStart(12, "0");
      prefix = `${t.slice(0, 8)}-${t.slice(8)}-7`;
    }
    return `${prefix}${seq.toString(16).padStart(3, "0")}-${tail}`;
  };
}
