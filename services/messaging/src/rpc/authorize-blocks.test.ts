import { describe, expect, it } from "vitest";
import type { Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotFound, NotYours } from "@kontor/service-kit/errors";
import { authorizeListBlockedBusinesses, authorizeReportBusiness, authorizeSetBusinessBlocked } from "./authorize.js";

const ana: Principal = { kind: "customer", customerId: "ana" };
const owner: Principal = { kind: "business", businessId: "biz_1" };
const gateway: Principal = { kind: "service", service: "gateway" };
const numbers: Record<string, string> = { pn_1: "biz_1", pn_2: "biz_2" };
const directory = {
  hasBusiness: (businessId: string) => Object.values(numbers).includes(businessId),
  businessOf: (phoneNumberId: string) => numbers[phoneNumberId],
};

describe("block and report authorization", () => {
  it("SetBusinessBlocked: the customer itself, about a business the directory knows", () => {
    expect(() => authorizeSetBusinessBlocked(ana, "ana", "biz_1", directory)).not.toThrow();
    expect(() => authorizeSetBusinessBlocked(ana, "bob", "biz_1", directory)).toThrow(NotYours);
    expect(() => authorizeSetBusinessBlocked(owner, "ana", "biz_1", directory)).toThrow(NotYours);
    expect(() => authorizeSetBusinessBlocked(gateway, "ana", "biz_1", directory)).toThrow(NotYours);
    expect(() => authorizeSetBusinessBlocked(ana, "ana", "biz_9", directory)).toThrow(NotFound);
  });

  it("ReportBusiness: as SetBusinessBlocked; a number named must be the business's", () => {
    expect(() => authorizeReportBusiness(ana, "ana", "biz_1", "", directory)).not.toThrow();
    expect(() => authorizeReportBusiness(ana, "ana", "biz_1", "pn_1", directory)).not.toThrow();
    expect(() => authorizeReportBusiness(ana, "ana", "biz_1", "pn_2", directory)).toThrow(InvalidInput);
    expect(() => authorizeReportBusiness(ana, "ana", "biz_1", "pn_9", directory)).toThrow(NotFound);
    expect(() => authorizeReportBusiness(ana, "bob", "biz_1", "pn_1", directory)).toThrow(NotYours);
  });

  it("ListBlockedBusinesses: the customer itself", () => {
    expect(() => authorizeListBlockedBusinesses(ana, "ana")).not.toThrow();
    expect(() => authorizeListBlockedBusinesses(ana, "bob")).toThrow(NotYours);
    expect(() => authorizeListBlockedBusinesses(owner, "ana")).toThrow(NotYours);
  });
});
