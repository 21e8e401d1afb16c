import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, pageSize } from "./paging.js";
import { parseMoney } from "./money.js";
import { InvalidInput } from "./errors.js";

const isCursor = (v: unknown): v is { id: string } => typeof v === "object" && v !== null && typeof (v as { id?: unknown }).id === "string";

describe("paging", () => {
  it("when a cursor round-trips, then it decodes to the same value; garbage is InvalidInput", () => {
    expect(decodeCursor(encodeCursor({ id: "x" }), isCursor)).toEqual({ id: "x" });
    expect(decodeCursor("", isCursor)).toBeUndefined();
    expect(() => decodeCursor("%%%", isCursor)).toThrow(InvalidInput);
    expect(() => decodeCursor(encodeCursor({ other: 1 }), isCursor)).toThrow(InvalidInput);
  });

  it("when a page size is asked, then it is defaulted and capped", () => {
    expect(pageSize(0)).toBe(20);
    expect(pageSize(500, 20, 100)).toBe(100);
    expect(() => pageSize(-1)).toThrow(InvalidInput);
  });
});

describe("parseMoney", () => {
  it("when amounts exceed 2^53, then they stay exact", () => {
    expect(parseMoney("price", { amountMinor: "9007199254740993", currency: "IDR" }).amountMinor).toBe(9007199254740993n);
  });
  it("when the amount is not an integer, then the amount field is named", () => {
    expect(() => parseMoney("price", { amountMinor: "1.5", currency: "EUR" })).toThrow(/price.amount_minor/);
  });
});
