import { createHmac, timingSafeEqual } from "node:crypto";
import type { BidKind } from "./campaign.js";
import { placements, type Placement } from "./targeting.js";

/** What a served ad's token proves: this impression, of this campaign, to this viewer, at this price. */
export interface AdTokenClaims {
  impressionId: string;
  campaignId: string;
  businessId: string;
  creativeId: string;
  /** "" for an anonymous viewer. */
  customerId: string;
  placement: Placement;
  servedAtMs: number;
  kind: BidKind;
  /** CPC: the click's price in minor units; CPM: the impression's in thousandths. */
  price: number;
  currency: string;
}

const MAC_BYTES = 16;

function mac(secret: string, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest().subarray(0, MAC_BYTES);
}

/**
 * Signed, so a click needs no lookup of its impression (which may still be
 * in another replica's unflushed batch) and cannot be forged to charge a
 * campaign or claim a price.
 */
export function mintAdToken(secret: string, c: AdTokenClaims): string {
  const body = Buffer.from(
    JSON.stringify([c.impressionId, c.campaignId, c.businessId, c.creativeId, c.customerId, c.placement, c.servedAtMs, c.kind, c.price, c.currency]),
  ).toString("base64url");
  return `${body}.${mac(secret, body).toString("base64url")}`;
}

/** The claims of a token this service signed, or undefined for anything else. */
export function verifyAdToken(secret: string, token: string): AdTokenClaims | undefined {
  const dot = token.indexOf(".");
  if (dot <= 0) return undefined;
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), "base64url");
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, mac(secret, body))) return undefined;
  try {
    const v = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as unknown[];
    const [impressionId, campaignId, businessId, creativeId, customerId, placement, servedAtMs, kind, price, currency] = v;
    if (
      typeof impressionId !== "string" ||
      typeof campaignId !== "string" ||
      typeof businessId !== "string" ||
      typeof creativeId !== "string" ||
      typeof customerId !== "string" ||
      !placements.includes(placement as Placement) ||
      typeof servedAtMs !== "number" ||
      (kind !== "cpm" && kind !== "cpc") ||
      typeof price !== "number" ||
      typeof currency !== "string"
    ) {
      return undefined;
    }
    return { impressionId, campaignId, businessId, creativeId, customerId, placement: placement as Placement, servedAtMs, kind, price, currency };
  } catch {
    return undefined;
  }
}
