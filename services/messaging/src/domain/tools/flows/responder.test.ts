import { describe, expect, it } from "vitest";
import type { FaqEntry } from "./definition.js";
import { FAQ_MIN_CONFIDENCE, faqMatcher, faqScore } from "./responder.js";

const FAQ: FaqEntry[] = [
  { question: "What are your opening hours?", answer: "HOURS", keywords: ["open", "opening hours", "horário"] },
  { question: "Do you deliver to Lisbon?", answer: "DELIVERY", keywords: ["shipping"] },
  { question: "How can I pay? Do you take cards or Pix?", answer: "PAYMENT" },
  { question: "Como faço para trocar um produto?", answer: "TROCA", keywords: ["troca", "devolução"] },
];

describe("the FAQ matcher", () => {
  it.each([
    ["What are your opening hours?", "HOURS"],
    ["opening HOURS please!!", "HOURS"],
    ["when do you open", "HOURS"],
    ["Qual o horário de vocês?", "HOURS"],
    ["Do you deliver?", "DELIVERY"],
    ["how much is shipping", "DELIVERY"],
    ["can I pay with pix", "PAYMENT"],
    ["do you take card", "PAYMENT"],
    ["quero fazer uma devolucao", "TROCA"],
    ["Como trocar produto", "TROCA"],
  ])("when the customer asks %s, then the answer is %s", (question, answer) => {
    expect(faqMatcher.answer(question, FAQ)?.text).toBe(answer);
  });

  it.each([["hi"], ["thanks!"], ["do you deliver to porto?"], ["what are your prices?"], ["my parcel arrived broken"], ["I want to cancel order 1234"], ["?!"], [""]])("when the customer writes %s, then there is no answer", (question) => {
    expect(faqMatcher.answer(question, FAQ)).toBeUndefined();
  });

  it("when the question is exactly an entry's, then the confidence is 1", () => {
    expect(faqMatcher.answer("Do you deliver to Lisbon?", FAQ)).toEqual({ text: "DELIVERY", confidence: 1 });
  });

  it("when a keyword is only part of a word, then it boosts nothing", () => {
    expect(faqScore("reopened", FAQ[0]!)).toBe(0);
    expect(faqScore("open", FAQ[0]!)).toBeGreaterThanOrEqual(FAQ_MIN_CONFIDENCE);
  });

  it("when two entries score the same, then the earlier one answers; the same input always gives the same answer", () => {
    const twins: FaqEntry[] = [
      { question: "Where is the store?", answer: "FIRST" },
      { question: "Where is the store?", answer: "SECOND" },
    ];
    expect(faqMatcher.answer("where is the store", twins)?.text).toBe("FIRST");
    expect(faqMatcher.answer("where is the store", twins)).toEqual(faqMatcher.answer("where is the store", twins));
  });

  it("when there is no FAQ, then there is no answer", () => {
    expect(faqMatcher.answer("What are your opening hours?", [])).toBeUndefined();
  });
});
