import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, pageOf, pageSize, readPage } from "./paging.js";
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

  it("when a list is read page by page, then every row comes once and the last page has no token", () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}` }));
    const seen: string[] = [];
    let token = "";
    let pages = 0;
    do {
      const start = readPage({ pageSize: 3, pageToken: token }, isCursor, 100);
      expect(start.take).toBe(start.limit + 1);
      const from = start.cursor ? rows.findIndex((r) => r.id === start.cursor!.id) + 1 : 0;
      const page = pageOf(rows.slice(from, from + start.take), start.limit, (last) => ({ id: last.id }));
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((r) => r.id));
      token = page.page.nextPageToken;
      pages += 1;
    } while (token && pages < 10);
    expect(seen).toEqual(rows.map((r) => r.id));
    expect(pages).toBe(3);
    // Exactly a page of rows: no extra row, so no token.
    expect(pageOf(rows.slice(0, 3), 3, (last) => ({ id: last.id })).page.nextPageToken).toBe("");
    expect(() => readPage({ pageToken: "%%%" }, isCursor, 100)).toThrow(InvalidInput);
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
