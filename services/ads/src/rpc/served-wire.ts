import { Creative as CreativePb, SelectAdsResponse, type ServedAd as ServedAdPb } from "@kontor/proto/ads/v1/ads_service";

/**
 * SelectAds' response bytes, the same as the generated encoder writes, with
 * each creative encoded once and its bytes reused: a creative is most of a
 * served ad and changes only with its campaign, while the generated path
 * encoded it field by field on every call, through a growing writer, and
 * then copied the result (`Buffer.from`).
 */
const creativeBytes = new WeakMap<CreativePb, Buffer>();

function creativeOf(c: CreativePb): Buffer {
  let b = creativeBytes.get(c);
  if (!b) creativeBytes.set(c, (b = Buffer.from(CreativePb.encode(c).finish())));
  return b;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(b: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    b[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[at++] = n;
  return at;
}

const fieldSize = (bytes: number): number => (bytes === 0 ? 0 : 1 + varintSize(bytes) + bytes);

function writeString(b: Buffer, at: number, tag: number, s: string, bytes: number): number {
  if (bytes === 0) return at;
  b[at++] = tag;
  at = writeVarint(b, at, bytes);
  return at + b.write(s, at, bytes, "utf8");
}

export function encodeSelectAdsResponse(res: SelectAdsResponse): Buffer {
  const ads = res.ads;
  // Plain objects only: anything unusual goes the generated way.
  for (const ad of ads) if (ad.objective < 0) return Buffer.from(SelectAdsResponse.encode(res).finish());
  const sizes: number[] = [];
  let total = 0;
  for (const ad of ads) {
    const token = Buffer.byteLength(ad.adToken);
    const impression = Buffer.byteLength(ad.impressionId);
    const campaign = Buffer.byteLength(ad.campaignId);
    const business = Buffer.byteLength(ad.businessId);
    const creative = ad.creative ? creativeOf(ad.creative).length : -1;
    const body =
      fieldSize(token) + fieldSize(impression) + fieldSize(campaign) + fieldSize(business) + (ad.objective !== 0 ? 1 + varintSize(ad.objective) : 0) + (creative >= 0 ? 1 + varintSize(creative) + creative : 0);
    sizes.push(token, impression, campaign, business, body);
    total += 1 + varintSize(body) + body;
  }
  const b = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < ads.length; i++) {
    const ad: ServedAdPb = ads[i]!;
    b[at++] = 10;
    at = writeVarint(b, at, sizes[i * 5 + 4]!);
    at = writeString(b, at, 10, ad.adToken, sizes[i * 5]!);
    at = writeString(b, at, 18, ad.impressionId, sizes[i * 5 + 1]!);
    at = writeString(b, at, 26, ad.campaignId, sizes[i * 5 + 2]!);
    at = writeString(b, at, 34, ad.businessId, sizes[i * 5 + 3]!);
    if (ad.objective !== 0) {
      b[at++] = 40;
      at = writeVarint(b, at, ad.objective);
    }
    if (ad.creative) {
      const c = creativeOf(ad.creative);
      b[at++] = 50;
      at = writeVarint(b, at, c.length);
      at += c.copy(b, at);
    }
  }
  return b;
}
