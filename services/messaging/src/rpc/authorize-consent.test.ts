import { describe, expect, it } from "vitest";
import type { Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotYours } from "@kontor/service-kit/errors";
import { authorizeGetConsent, authorizeSetMarketingConsent, authorizeSetPrivacySettings } from "./authorize.js";

const ana: Principal = { kind: "customer", customerId: "ana" };
const owner: Principal = { kind: "business", businessId: "biz_1" };
const partner: Principal = { kind: "partner", partnerId: "bsp", businessIds: ["biz_1"] };
const gateway: Principal = { kind: "service", service: "gateway" };
const staff: Principal = { kind: "staff", staffId: "s1", roles: ["operator"] };

describe("consent authorization", () => {
  it("GetConsent: a customer reads its own with privacy; a business side one business it acts for, without privacy", () => {
    expect(authorizeGetConsent(ana, "ana", "")).toEqual({ withPrivacy: true });
    expect(() => authorizeGetConsent(ana, "bob", "")).toThrow(NotYours);
    expect(authorizeGetConsent(owner, "ana", "biz_1")).toEqual({ withPrivacy: false });
    expect(authorizeGetConsent(partner, "ana", "biz_1")).toEqual({ withPrivacy: false });
    expect(authorizeGetConsent(gateway, "ana", "biz_1")).toEqual({ withPrivacy: false });
    expect(() => authorizeGetConsent(owner, "ana", "biz_2")).toThrow(NotYours);
    expect(() => authorizeGetConsent(owner, "ana", "")).toThrow(InvalidInput);
    expect(() => authorizeGetConsent(staff, "ana", "biz_1")).toThrow(NotYours);
  });

  it("SetMarketingConsent: the customer opts in or out; a business side opts in with proof for its own business only", () => {
    expect(authorizeSetMarketingConsent(ana, "ana", "biz_9", false, "")).toBe("customer:ana");
    expect(() => authorizeSetMarketingConsent(ana, "bob", "biz_1", true, "x")).toThrow(NotYours);
    expect(authorizeSetMarketingConsent(owner, "ana", "biz_1", true, "form")).toBe("business:biz_1");
    expect(authorizeSetMarketingConsent(partner, "ana", "biz_1", true, "form")).toBe("partner:bsp");
    expect(authorizeSetMarketingConsent(gateway, "ana", "biz_1", true, "form")).toBe("service:gateway");
    expect(() => authorizeSetMarketingConsent(owner, "ana", "biz_1", false, "form")).toThrow(NotYours);
    expect(() => authorizeSetMarketingConsent(owner, "ana", "biz_1", true, " ")).toThrow(InvalidInput);
    expect(() => authorizeSetMarketingConsent(owner, "ana", "biz_2", true, "form")).toThrow(NotYours);
  });

  it("SetPrivacySettings: the customer itself only", () => {
    expect(authorizeSetPrivacySettings(ana, "ana")).toBe("customer:ana");
    expect(() => authorizeSetPrivacySettings(ana, "bob")).toThrow(NotYours);
    expect(() => authorizeSetPrivacySettings(gateway, "ana")).toThrow(NotYours);
    expect(() => authorizeSetPrivacySettings(owner, "ana")).toThrow(NotYours);
  });
});
