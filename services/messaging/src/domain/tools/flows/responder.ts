import type { FaqEntry } from "./definition.js";
import { words } from "./text.js";

/** An answer to a customer's question, with how sure the responder is (0–1). */
export interface ResponderAnswer {
  text: string;
  confidence: number;
}

/**
 * Answers a customer's question from the business's own questions and
 * answers, when no flow trigger matched. The default is `faqMatcher`
 * (deterministic, no model); a generative model can implement this later.
 */
export interface Responder {
  answer(question: string, faq: readonly FaqEntry[]): ResponderAnswer | undefined;
}

/** The least confidence with which an FAQ answer is sent. */
export const FAQ_MIN_CONFIDENCE = 0.4;

/** What the first keyword of an entry found in the question adds to its score, and each further one. */
export const KEYWORD_BOOST = { first: 0.4, further: 0.15 } as const;

/** Words that say nothing about the topic (English, Portuguese, Spanish), left out of the overlap. */
const STOPWORDS = new Set(
  (
    "a an the is are was were be been am to of in on at for and or but not no do does did i you we they he she it my your our their me us " +
    "what when where which who how can could would will shall should may might with from by this that these those there here please " +
    "hi hello hey thanks thank ok okay so if about any some have has had get got tell know want like just " +
    "o os as um uma uns umas de do da dos das em no na nos nas e ou que para por com eu voce voces vc qual quais quando onde como " +
    "meu minha seu sua nosso nossa ola oi obrigado obrigada tem ter tenho pode posso sao esta estao " +
    "el la los las un una unos unas del al en y es son por para con yo usted ustedes cual cuales cuando donde como mi su hola gracias tiene puedo"
  ).split(" "),
);

/** A crude stem so "hours" meets "hour" and "horários" meets "horário". */
function stem(word: string): string {
  return word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
}

const contentWords = (text: string) => new Set(words(text).filter((w) => !STOPWORDS.has(w)).map(stem));

/**
 * How well an FAQ entry answers a question (0–1): the Jaccard overlap of
 * their content words (stop words left out, plurals folded), plus a boost
 * when the question contains one of the entry's keywords.
 */
export function faqScore(question: string, entry: FaqEntry): number {
  const asked = contentWords(question);
  const all = new Set(words(question).map(stem));
  const known = contentWords(entry.question);
  let shared = 0;
  for (const w of asked) if (known.has(w)) shared++;
  const union = asked.size + known.size - shared;
  const overlap = union === 0 ? 0 : shared / union;
  const hits = (entry.keywords ?? []).filter((k) => {
    const ks = words(k).map(stem);
    return ks.length > 0 && ks.every((w) => all.has(w));
  }).length;
  const boost = hits === 0 ? 0 : KEYWORD_BOOST.first + KEYWORD_BOOST.further * (hits - 1);
  return Math.min(1, overlap + boost);
}

/** The default responder: the best-scoring entry at or above FAQ_MIN_CONFIDENCE (the first on a tie), or nothing. */
export const faqMatcher: Responder = {
  answer(question, faq) {
    let best: ResponderAnswer | undefined;
    for (const entry of faq) {
      const confidence = faqScore(question, entry);
      if (confidence >= FAQ_MIN_CONFIDENCE && confidence > (best?.confidence ?? 0)) best = { text: entry.answer, confidence };
    }
    return best;
  },
};
