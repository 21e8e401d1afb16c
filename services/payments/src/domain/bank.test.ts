import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { invalidField } from "@kontor/testkit/errors";
import { abaChecksumValid, ibanChecksumValid, maskBankNumber, numberHmac, openNumber, sealNumber, validateBankNumber } from "./bank.js";
import { CALLBACK_TOLERANCE_MS, signCallback, verifyCallback } from "./bank-rail.js";
import { ibanOf } from "../../test/factories.js";


describe("validateBankNumber", () => {
  it("when an IBAN has the right length and check digits, then it is accepted in any spacing or case", () => {
    expect(validateBankNumber({ iban: "DE89 3704 0044 0532 0130 00" })).toEqual({ scheme: "iban", iban: "DE89370400440532013000" });
    expect(validateBankNumber({ iban: "gb82west12345698765432" })).toEqual({ scheme: "iban", iban: "GB82WEST12345698765432" });
  });

  it("when one character of an IBAN changes, then its checksum fails", () => {
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 21 }), fc.integer({ min: 1, max: 9 }), (pos, delta) => {
        const good = "DE89370400440532013000";
        const digit = (Number(good[pos]) + delta) % 10;
        const bad = good.slice(0, pos) + String(digit) + good.slice(pos + 1);
        expect(ibanChecksumValid(bad)).toBe(false);
      }),
    );
  });

  it("when a number is bad, then the error names the field", () => {
    expect(invalidField(() => validateBankNumber({ iban: "DE88370400440532013000" }))).toBe("iban");
    expect(invalidField(() => validateBankNumber({ iban: "DE8937040044053201300" }))).toBe("iban");
    expect(invalidField(() => validateBankNumber({ iban: "XX89370400440532013000" }))).toBe("iban");
    expect(invalidField(() => validateBankNumber({ local: { accountNumber: "12", routingNumber: "021000021" } }))).toBe("local.account_number");
    expect(invalidField(() => validateBankNumber({ local: { accountNumber: "123456789", routingNumber: "021000022" } }))).toBe("local.routing_number");
    expect(invalidField(() => validateBankNumber({}))).toBe("number");
  });

  it("when a routing number's ABA checksum holds, then it is accepted", () => {
    expect(abaChecksumValid("021000021")).toBe(true);
    expect(abaChecksumValid("011000015")).toBe(true);
    expect(abaChecksumValid("011000016")).toBe(false);
    expect(validateBankNumber({ local: { accountNumber: "0001-2345-6789", routingNumber: "021000021" } })).toEqual({ scheme: "local", accountNumber: "000123456789", routingNumber: "021000021" });
  });

  it("when a number is shown, then only the country and the last four characters are", () => {
    const iban = validateBankNumber({ iban: ibanOf("DE", "370400440532013000") });
    expect(maskBankNumber(iban)).toBe("DE** **** 3000");
    expect(maskBankNumber({ scheme: "local", accountNumber: "000123456789", routingNumber: "021000021" })).toBe("****6789 (routing 021000021)");
  });
});

describe("sealNumber", () => {
  const key = Buffer.alloc(32, 1);
  const n = validateBankNumber({ iban: "DE89370400440532013000" });

  it("when sealed, then the ciphertext does not contain the number and opens only under its row id", () => {
    const sealed = sealNumber(key, n, "row-1");
    expect(sealed.toString("latin1")).not.toContain("0532013000");
    expect(openNumber(key, sealed, "row-1")).toEqual(n);
    expect(() => openNumber(key, sealed, "row-2")).toThrow(/integrity/);
    expect(() => openNumber(Buffer.alloc(32, 2), sealed, "row-1")).toThrow(/integrity/);
    expect(numberHmac(key, n)).toBe(numberHmac(key, validateBankNumber({ iban: "de89 3704 0044 0532 0130 00" })));
  });
});

describe("verifyCallback", () => {
  it("when the body or signature was changed, then the callback is not believed", () => {
    const body = Buffer.from(JSON.stringify({ reference: "op1", railReference: "r", status: "settled", reason: "" }));
    const sig = signCallback("secret-secret-secret", body);
    expect(verifyCallback("secret-secret-secret", body, sig)?.status).toBe("settled");
    expect(verifyCallback("other-secret-secret", body, sig)).toBeUndefined();
    expect(verifyCallback("secret-secret-secret", Buffer.from(body.toString().replace("settled", "failed")), sig)).toBeUndefined();
    expect(verifyCallback("secret-secret-secret", body, "zz")).toBeUndefined();
  });

  it("when a signed callback is older (or newer) than the tolerance, then it is a replay and is not believed; its time cannot be changed", () => {
    const body = Buffer.from(JSON.stringify({ reference: "op1", railReference: "r", status: "settled", reason: "" }));
    const now = 1_800_000_000_000;
    const at = (ms: number) => signCallback("secret-secret-secret", body, ms);
    expect(verifyCallback("secret-secret-secret", body, at(now - CALLBACK_TOLERANCE_MS), now)?.status).toBe("settled");
    expect(verifyCallback("secret-secret-secret", body, at(now - CALLBACK_TOLERANCE_MS - 1), now)).toBeUndefined();
    expect(verifyCallback("secret-secret-secret", body, at(now + CALLBACK_TOLERANCE_MS + 1), now)).toBeUndefined();
    const old = at(now - 3_600_000);
    expect(verifyCallback("secret-secret-secret", body, old.replace(/^t=[0-9]+/, `t=${now}`), now)).toBeUndefined();
  });
});
