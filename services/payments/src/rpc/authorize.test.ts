import { describe, expect, it } from "vitest";
import { NotYours } from "@kontor/service-kit/errors";
import type { Principal } from "@kontor/service-kit/auth";
import { authorizeOpenAccount, canActForOwner, LEDGER_ADMIN_ROLE } from "./authorize.js";

const customer: Principal = { kind: "customer", customerId: "cus_1" };
const business: Principal = { kind: "business", businessId: "biz_1" };
const partner: Principal = { kind: "partner", partnerId: "bsp_1", businessIds: ["biz_1"] };
const service: Principal = { kind: "service", service: "ads" };
const admin: Principal = { kind: "staff", staffId: "s1", roles: [LEDGER_ADMIN_ROLE] };
const support: Principal = { kind: "staff", staffId: "s2", roles: ["support"] };

describe("canActForOwner", () => {
  it("when the principal is the owner (or acts for it), then yes; otherwise no", () => {
    expect(canActForOwner(customer, { kind: "customer", id: "cus_1" })).toBe(true);
    expect(canActForOwner(customer, { kind: "customer", id: "cus_2" })).toBe(false);
    expect(canActForOwner(business, { kind: "business", id: "biz_1" })).toBe(true);
    expect(canActForOwner(business, { kind: "business", id: "biz_2" })).toBe(false);
    expect(canActForOwner(business, { kind: "customer", id: "biz_1" })).toBe(false);
    expect(canActForOwner(partner, { kind: "business", id: "biz_1" })).toBe(true);
    // An allow-listed service acts for any tenant; access.ts decides which RPCs it reaches.
    expect(canActForOwner(service, { kind: "customer", id: "cus_9" })).toBe(true);
    expect(canActForOwner(service, { kind: "business", id: "biz_9" })).toBe(true);
  });

  it("when the account is a system account, then only ledger admins, never a service", () => {
    const system = { kind: "system", id: "settlement" } as const;
    expect(canActForOwner(admin, system)).toBe(true);
    expect(canActForOwner(service, system)).toBe(false);
    expect(canActForOwner(support, system)).toBe(false);
    expect(canActForOwner(business, system)).toBe(false);
  });
});

describe("authorizeOpenAccount", () => {
  it("when anyone but a ledger admin asks for an account that may go negative, then NotYours", () => {
    const valid = { owner: { kind: "customer", id: "cus_1" }, currency: "EUR", allowNegativeBalance: false } as const;
    expect(() => authorizeOpenAccount(customer, valid)).not.toThrow();
    expect(() => authorizeOpenAccount(customer, { ...valid, allowNegativeBalance: true })).toThrow(NotYours);
    expect(() => authorizeOpenAccount(service, { ...valid, allowNegativeBalance: true })).toThrow(NotYours);
    expect(() => authorizeOpenAccount(admin, { owner: { kind: "system", id: "settlement" }, currency: "EUR", allowNegativeBalance: true })).not.toThrow();
  });
});
