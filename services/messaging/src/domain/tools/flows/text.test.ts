import { describe, expect, it } from "vitest";
import { containsPhrase, cut, interpolate, normalize, variablesIn } from "./text.js";

describe("normalize", () => {
  it("when a text has capitals, accents and punctuation, then they are folded away", () => {
    expect(normalize("  ¿Horário, ABERTO?! ")).toBe("horario aberto");
    expect(normalize("Çà-va ÜBER")).toBe("ca va uber");
  });
});

describe("whole-word phrases", () => {
  it("when the phrase is a whole word or words of the text, then it is contained; a part of a word is not", () => {
    expect(containsPhrase("Olá, bom dia!", "ola")).toBe(true);
    expect(containsPhrase("I want to OPT-OUT now", "opt out")).toBe(true);
    expect(containsPhrase("this is it", "hi")).toBe(false);
    expect(containsPhrase("prices", "price")).toBe(false);
    expect(containsPhrase("anything", "?!")).toBe(false);
  });
});

describe("interpolation", () => {
  it("when a text names variables, then captured ones are filled and unknown ones are empty", () => {
    expect(interpolate("Hi {{name}}, order {{order}}.", { name: "Ana" })).toBe("Hi Ana, order .");
  });

  it("when a value itself holds a placeholder, then it is not filled again", () => {
    expect(interpolate("You said: {{answer}}", { answer: "{{secret}}", secret: "s3" })).toBe("You said: {{secret}}");
  });

  it("when the result is longer than the limit, then it is cut without splitting a surrogate pair", () => {
    expect(interpolate("{{v}}", { v: "abcdef" }, 4)).toBe("abcd");
    expect(cut("ab😀", 3)).toBe("ab");
  });

  it("when a placeholder is malformed, then it is reported", () => {
    expect(variablesIn("{{a}} and {{b_2}}")).toEqual({ names: ["a", "b_2"] });
    expect(variablesIn("{{ a }}").bad).toBe("{{ a }}");
    expect(variablesIn("{{Name}}").bad).toBe("{{Name}}");
    expect(variablesIn("open {{a").bad).toBe("{{");
  });
});
