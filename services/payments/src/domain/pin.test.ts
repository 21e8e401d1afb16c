import { describe, expect, it } from "vitest";
import { invalidField } from "@kontor/testkit/errors";
import { afterWrongPin, hashPin, MAX_PIN_ATTEMPTS, pinMatches, validatePin } from "./pin.js";

describe("validatePin", () => {
  it("when a PIN is not 4-6 digits, then the field is named", () => {
    expect(validatePin("pin", "1234")).toBe("1234");
    expect(validatePin("pin", "123456")).toBe("123456");
    for (const bad of ["", "123", "1234567", "12a4", " 1234", "１２３４"]) expect(invalidField(() => validatePin("pin", bad))).toBe("pin");
  });
});

describe("afterWrongPin", () => {
  it("when the fifth wrong PIN comes, then payments lock for the cooling-off period and the count restarts", () => {
    const now = new Date("2026-12-01T00:00:00Z");
    let failed = 0;
    for (let i = 1; i < MAX_PIN_ATTEMPTS; i++) {
      const next = afterWrongPin(failed, now, 60_000);
      expect(next).toEqual({ failed: i, lockedUntil: null });
      failed = next.failed;
    }
    expect(afterWrongPin(failed, now, 60_000)).toEqual({ failed: 0, lockedUntil: new Date("2026-12-01T00:01:00Z") });
  });
});

describe("hashPin", () => {
  it("when the salt differs, then so does the hash; only the right PIN matches", async () => {
    const salt = Buffer.alloc(16, 1);
    const hash = await hashPin("4821", salt, 10);
    expect(hash.equals(await hashPin("4821", Buffer.alloc(16, 2), 10))).toBe(false);
    expect(await pinMatches("4821", { hash, salt, cost: 10 })).toBe(true);
    expect(await pinMatches("4822", { hash, salt, cost: 10 })).toBe(false);
    expect(hash.toString("latin1")).not.toContain("4821");
  });
});
