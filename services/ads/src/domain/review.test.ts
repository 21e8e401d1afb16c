import { describe, expect, it } from "vitest";
import type { Creative } from "./campaign.js";
import { reviewCampaign, type PolicyRules } from "./review.js";

const rules: PolicyRules = { bannedWords: ["casino", "miracle"], allowedUrlHosts: ["cdn.kontor.local"], blockedLandingDomains: ["bit.ly"] };
const creative = (o: Partial<Creative> = {}): Creative => ({
  id: "c1",
  headline: "Handmade mugs",
  text: "Glazed in Porto",
  imageUrl: "https://cdn.kontor.local/m.jpg",
  callToAction: "Shop",
  landingUrl: "https://pottery.example/mugs",
  prefilledMessage: "",
  templateName: "",
  templateLanguage: "",
  ...o,
});

describe("reviewCampaign", () => {
  it("when the creatives are clean, then there is no reason", () => {
    expect(reviewCampaign({ creatives: [creative(), creative({ id: "c2", text: "See https://pottery.example/more" })] }, rules)).toEqual([]);
  });

  it("when a banned word appears as a whole word in any text field, then the reason names the creative, word and field", () => {
    expect(reviewCampaign({ creatives: [creative({ headline: "Casino night!" })] }, rules)).toEqual(['creative c1: banned word "casino" in headline']);
    expect(reviewCampaign({ creatives: [creative({ prefilledMessage: "a MIRACLE" })] }, rules)).toEqual(['creative c1: banned word "miracle" in prefilled_message']);
    expect(reviewCampaign({ creatives: [creative({ text: "casinos nearby" })] }, rules)).toEqual([]);
  });

  it("when an image or a link in the text is off the allowlist, or the landing domain is blocked, then each is a reason", () => {
    const reasons = reviewCampaign({ creatives: [creative({ imageUrl: "https://evil.test/x.png", text: "go http://other.test/y", landingUrl: "https://bit.ly/abc" })] }, rules);
    expect(reasons).toEqual([
      "creative c1: landing domain bit.ly is blocked",
      "creative c1: image_url points at evil.test, which is not on the URL allowlist",
      "creative c1: text points at other.test, which is not on the URL allowlist",
    ]);
  });

  it("when creatives lead to different landing domains, then that is a reason", () => {
    const reasons = reviewCampaign({ creatives: [creative(), creative({ id: "c2", landingUrl: "https://elsewhere.example/" })] }, rules);
    expect(reasons).toEqual(["creatives lead to 2 landing domains; one campaign has one (elsewhere.example, pottery.example)"]);
  });
});
