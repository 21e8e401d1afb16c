import { describe, expect, it } from "vitest";
import { callingCode, normalizePhone } from "./phone.js";

describe("normalizePhone", () => {
  it.each([
    ["+1 (650) 555-1234", "+15550100000", "16505551234"],
    ["16505551234", "+15550100000", "16505551234"],
    ["(631) 555-1234", "+919876543210", "916315551234"],
    ["0151 2345678", "+4915112345678", "491512345678"],
    ["0049 151 2345678", "+15550100000", "491512345678"],
    ["+49.151.2345.678", "+15550100000", "491512345678"],
  ])("%s from %s → %s", (input, business, waId) => {
    expect(normalizePhone(input, business)).toEqual({ ok: true, waId, e164: `+${waId}` });
  });

  it.each(["", "abc", "+1 650 555 1234 x", "1+2345678", "+123", "+1234567890123456", "<script>"])("%j is refused", (input) => {
    expect(normalizePhone(input, "+15550100000").ok).toBe(false);
  });

  it("knows one-, two- and three-digit calling codes", () => {
    expect([callingCode("+15550100000"), callingCode("+74951234567"), callingCode("+4915112345678"), callingCode("+351912345678")]).toEqual(["1", "7", "49", "351"]);
  });
});
