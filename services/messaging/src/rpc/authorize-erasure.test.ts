import { describe, expect, it } from "vitest";
import type { Principal } from "@kontor/service-kit/auth";
import { InvalidInput, NotYours } from "@kontor/service-kit/errors";
import { authorizeEraseCustomerData } from "./authorize.js";

const ana: Principal = { kind: "customer", customerId: "ana" };
const bob: Principal = { kind: "customer", customerId: "bob" };
const operator: Principal = { kind: "staff", staffId: "op1", roles: ["operator"] };
const support: Principal = { kind: "staff", staffId: "s1", roles: ["support"] };
const owner: Principal = { kind: "business", businessId: "biz_1" };
const gateway: Principal = { kind: "service", service: "gateway" };

describe("erasure authorization", () => {
  it("EraseCustomerData: the customer itself (a reason optional) or an operator with a reason; answers who erases", () => {
    expect(authorizeEraseCustomerData(ana, "ana", "")).toBe("customer:ana");
    expect(authorizeEraseCustomerData(operator, "ana", "DSR-1")).toBe("staff:op1");
    const noReason = (() => {
      try {
        authorizeEraseCustomerData(operator, "ana", "  ");
      } catch (err) {
        return err;
      }
    })();
    expect(noReason).toBeInstanceOf(InvalidInput);
    expect((noReason as InvalidInput).field).toBe("reason");
  });

  it("EraseCustomerData: another customer, staff without the operator role, a business or a service is refused", () => {
    for (const p of [bob, support, owner, gateway]) expect(() => authorizeEraseCustomerData(p, "ana", "DSR-1")).toThrow(NotYours);
  });
});
