import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { NotYours } from "@kontor/service-kit/errors";
import type { Principal } from "@kontor/service-kit/auth";
import { authorizeOpenAccount, canActForOwner, LEDGER_ADMIN_ROLE, validateOpenAccount, type OpenAccountInput } from "./ledger-account.js";

const valid: OpenAccountInput = { owner: { kind: "customer", id: "cus_1" }, currency: "EUR", allowNegativeBalance: false };

describe("validateOpenAccount", () => {
  it("when the input is valid, then it is returned as is", () => {
    expect(validateOpenAccount(valid)).toEqual(valid);
  });

  it("when a field is bad, then the error names that field", () => {
    expect(invalidField(() => validateOpenAccount({ ...valid, owner: undefined }))).toBe("owner");
    expect(invalidField(() => validateOpenAccount({ ...valid, owner: { kind: "business", id: "" } }))).toBe("owner.business_id");
    expect(invalidField(() => validateOpenAccount({ ...valid, owner: { kind: "customer", id: "x".repeat(129) } }))).toBe("owner.customer_id");
    expect(invalidField(() => validateOpenAccount({ ...valid, owner: { kind: "system", id: "Settlement Account" } }))).toBe("owner.system");
    expect(invalidField(() => validateOpenAccount({ ...valid, currency: "eur" }))).toBe("currency");
    expect(invalidField(() => validateOpenAccount({ ...valid, currency: "XYZ" }))).toBe("currency");
    expect(invalidField(() => validateOpenAccount({ ...valid, currency: "" }))).toBe("currency");
  });
});

describe("canActForOwner", () => {
  const customer: Principal = { kind: "customer", customerId: "cus_1" };
  const business: Principal = { kind: "business", businessId: "biz_1" };
  const partner: Principal = { kind: "partner", partnerId: "bsp_1", businessIds: ["biz_1"] };
  const service: Principal = { kind: "service", service: "catalog" };
  const admin: Principal = { kind: "staff", staffId: "s1", roles: [LEDGER_ADMIN_ROLE] };
  const support: Principal = { kind: "staff", staffId: "s2", roles: ["support"] };

  it("when the principal is the owner (or acts for it), then yes; otherwise no", () => {
    expect(canActForOwner(customer, { kind: "customer", id: "cus_1" })).toBe(true);
    expect(canActForOwner(customer, { kind: "customer", id: "cus_2" })).toBe(false);
    expect(canActForOwner(business, { kind: "business", id: "biz_1" })).toBe(true);
    expect(canActForOwner(business, { kind: "business", id: "biz_2" })).toBe(false);
    expect(canActForOwner(business, { kind: "customer", id: "biz_1" })).toBe(false);
    expect(canActForOwner(partner, { kind: "business", id: "biz_1" })).toBe(true);
    expect(canActForOwner(service, { kind: "customer", id: "cus_9" })).toBe(true);
  });

  it("when the account is a system account, then only services and ledger admins", () => {
    const system = { kind: "system", id: "settlement" } as const;
    expect(canActForOwner(service, system)).toBe(true);
    expect(canActForOwner(admin, system)).toBe(true);
    expect(canActForOwner(support, system)).toBe(false);
    expect(canActForOwner(business, system)).toBe(false);
  });
});

describe("authorizeOpenAccount", () => {
  it("when an owner asks for an account that may go negative, then NotYours", () => {
    const customer: Principal = { kind: "customer", customerId: "cus_1" };
    expect(() => authorizeOpenAccount(customer, { ...valid, owner: { kind: "customer", id: "cus_1" } })).not.toThrow();
    expect(() => authorizeOpenAccount(customer, { owner: { kind: "customer", id: "cus_1" }, currency: "EUR", allowNegativeBalance: true })).toThrow(NotYours);
    expect(() =>
      authorizeOpenAccount({ kind: "service", service: "payments" }, { owner: { kind: "system", id: "settlement" }, currency: "EUR", allowNegativeBalance: true }),
    ).not.toThrow();
  });
});
