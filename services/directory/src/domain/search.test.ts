import { describe, expect, it } from "vitest";
import { InvalidInput } from "@kontor/service-kit/errors";
import { buildTextQuery, decodeSearchCursor, encodeSearchCursor, fingerprint, validateSearch, type PreparedToken, type SearchRequest } from "./search.js";

const tok = (word: string, over: Partial<PreparedToken> = {}): PreparedToken => ({ word, stems: [], categories: [], known: 10, prefixKnown: true, corrections: [], stop: false, ...over });
const base: SearchRequest = { query: "", category: "", openNow: false, verifiedOnly: false, language: "", country: "" };

describe("buildTextQuery", () => {
  it("when a word is unknown, then close dictionary words join it and the corrected query shows them", () => {
    const q = buildTextQuery(
      [tok("pottery", { stems: ["potteri"], categories: [{ code: "retail.pottery", n: 900 }] }), tok("galery", { known: 0, prefixKnown: false, corrections: [{ word: "gallery", n: 40 }] })],
      "pottery galery",
    );
    expect(q?.tsquery).toBe("('pottery' | 'potteri' | '~retail.pottery') & ('galery' | 'gallery')");
    expect(q?.corrected).toBe("pottery gallery");
    expect(q?.estimate).toBe(40);
  });

  it("when a word names many categories or has short stems, then those forms are left out", () => {
    const many = [1, 2, 3].map((i) => ({ code: `c${i}`, n: 100 }));
    expect(buildTextQuery([tok("toko", { stems: ["tok"], categories: many }), tok("roti", { categories: [{ code: "food.bakery", n: 50 }] })], "toko roti ")?.tsquery).toBe(
      "('toko') & ('roti' | '~food.bakery')",
    );
  });

  it("when the query ends with a space, then the last word is not a prefix", () => {
    expect(buildTextQuery([tok("pott", { known: 0 })], "pott ")?.tsquery).toBe("('pott')");
    expect(buildTextQuery([tok("pott", { known: 0 })], "pott")?.tsquery).toBe("('pott' | 'pott':*)");
    expect(buildTextQuery([tok("cafe")], "cafe")?.tsquery).toBe("('cafe')");
  });

  it("when stop words come with other words, then they are left out", () => {
    expect(buildTextQuery([tok("cafe"), tok("de", { stop: true }), tok("flore")], "Café de Flore")?.tsquery).toBe("('cafe') & ('flore')");
    expect(buildTextQuery([tok("the", { stop: true })], "the ")?.tsquery).toBe("('the')");
  });

  it("when a word matches nothing and has no close word, then it only ranks and no longer narrows", () => {
    const q = buildTextQuery([tok("kdeai", { known: 0, prefixKnown: false }), tok("kopi"), tok("budi")], "Kdeai Kopi Budi");
    expect(q?.tsquery).toBe("('kopi') & ('budi')");
    expect(q?.normalized).toBe("kdeai kopi budi");
    expect(buildTextQuery([tok("zzzz", { known: 0, prefixKnown: false })], "zzzz")?.tsquery).toBe("('zzzz')");
    expect(buildTextQuery([tok("cafe"), tok("pott", { known: 0 })], "cafe pott")?.tsquery).toBe("('cafe') & ('pott' | 'pott':*)");
  });

  it("when there are more than three words, then the index gets the three rarest and the rest is checked on the rows", () => {
    const q = buildTextQuery([tok("golden", { known: 900 }), tok("dragon", { known: 40 }), tok("noodle", { known: 300 }), tok("house", { known: 5000 })], "golden dragon noodle house ");
    expect(q?.indexed).toBe("('dragon') & ('noodle') & ('golden')");
    expect(q?.tsquery).toBe("('golden') & ('dragon') & ('noodle') & ('house')");
    expect(q?.estimate).toBe(40);
  });

  it("when a lexeme has a quote, then it is escaped", () => {
    expect(buildTextQuery([tok("o'neil")], "o'neil ")?.tsquery).toBe("('o''neil')");
  });
});

describe("search cursors", () => {
  it("when a token from another query is used, then INVALID_ARGUMENT names page.page_token", () => {
    const a = validateSearch({ ...base, query: "cafe" });
    const b = validateSearch({ ...base, query: "bar" });
    const token = encodeSearchCursor({ s: 1.5, id: "biz_1", t: 1, a: 1, n: 20, q: fingerprint(a) });
    expect(decodeSearchCursor(token, a)?.n).toBe(20);
    expect(() => decodeSearchCursor(token, b)).toThrow(InvalidInput);
  });

  it("when filters are bad, then the field is named", () => {
    expect(() => validateSearch({ ...base, near: { latitude: 0, longitude: 0, radiusKm: -1 } })).toThrow(/near.radius_km/);
    expect(() => validateSearch({ ...base, category: "nope" })).toThrow(/category/);
    expect(validateSearch({ ...base, language: "pt-BR" }).language).toBe("pt");
  });
});
