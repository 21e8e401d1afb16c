import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CampaignObjective, SelectAdsResponse, type ServedAd } from "@kontor/proto/ads/v1/ads_service";
import { encodeSelectAdsResponse } from "./served-wire.js";

const text = fc.string({ unit: "grapheme", maxLength: 300 });
const creative = fc.record({
  id: text,
  headline: text,
  text: fc.string({ unit: "grapheme", maxLength: 3000 }),
  imageUrl: text,
  callToAction: text,
  landingUrl: text,
  prefilledMessage: text,
  templateName: text,
  templateLanguage: text,
});
const served: fc.Arbitrary<ServedAd> = fc.record({
  adToken: text,
  impressionId: text,
  campaignId: text,
  businessId: text,
  objective: fc.constantFrom(0, CampaignObjective.CAMPAIGN_OBJECTIVE_DISPLAY, CampaignObjective.CAMPAIGN_OBJECTIVE_CLICK_TO_CHAT, 200),
  creative: fc.option(creative, { nil: undefined }),
});

describe("SelectAds response encoding", () => {
  it("when any served ads are encoded, then the bytes are the generated encoder's, also the second time a creative is served", () => {
    fc.assert(
      fc.property(fc.array(served, { maxLength: 5 }), (ads) => {
        const res = { ads };
        const expected = Buffer.from(SelectAdsResponse.encode(res).finish());
        expect(encodeSelectAdsResponse(res).equals(expected)).toBe(true);
        // The creative's bytes now come from the cache.
        expect(encodeSelectAdsResponse(res).equals(expected)).toBe(true);
        expect(SelectAdsResponse.decode(encodeSelectAdsResponse(res))).toEqual(SelectAdsResponse.decode(expected));
      }),
      { numRuns: 300 },
    );
  });
});
