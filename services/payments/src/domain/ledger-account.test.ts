import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { validateOpenAccount, type OpenAccountInput } from "./ledger-account.js";

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
