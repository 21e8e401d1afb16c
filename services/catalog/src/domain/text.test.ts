import { describe, expect, it } from "vitest";
import { normalizeWords, searchText } from "./text.js";

describe("normalizeWords", () => {
  it("when text has accents, case and punctuation, then the words come out plain, lower case and split", () => {
    expect(normalizeWords("Crème Brûlée, 2×BIG!")).toEqual(["creme", "brulee", "2", "big"]);
    expect(normalizeWords("Straße Øre Ærø")).toEqual(["strasse", "ore", "aero"]);
    expect(normalizeWords("   ")).toEqual([]);
  });

  it("when name and description share words, then the search text holds each once", () => {
    expect(searchText("Blue vase", "A blue, tall vase")).toBe("blue vase a tall");
  });
});
