import { refuse, type Refusal } from "./refusals.js";

/** What an inbound text says about marketing consent. */
export type KeywordMatch = "opt_out" | "opt_in" | "none";

export interface LanguageKeywords {
  readonly optOut: readonly string[];
  readonly optIn: readonly string[];
}

/**
 * The default keywords per language (ISO 639-1). Written as people type them;
 * matching ignores case, accents and surrounding punctuation and whitespace.
 * Single common words that also answer other questions ("no", "yes", "ende")
 * are left out: a keyword acts at once, with no confirmation.
 */
export const DEFAULT_KEYWORDS: Readonly<Record<string, LanguageKeywords>> = {
  en: { optOut: ["stop", "stop all", "stopall", "unsubscribe", "opt out", "optout", "cancel", "quit"], optIn: ["start", "unstop", "subscribe", "opt in", "optin"] },
  de: { optOut: ["stopp", "abmelden", "abbestellen", "austragen"], optIn: ["start", "anmelden", "abonnieren"] },
  es: { optOut: ["baja", "darse de baja", "dar de baja", "cancelar suscripción", "parar"], optIn: ["alta", "comenzar", "suscribir", "suscribirse"] },
  fr: { optOut: ["arrêt", "arrêter", "désabonner", "se désabonner", "désinscrire"], optIn: ["démarrer", "abonner", "s'abonner", "reprendre"] },
};

/** Lower case, no diacritics (é → e, ß → ss), one space between words, no punctuation around: "  Se DÉSABONNER! " → "se desabonner". */
export function normalizeKeyword(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/ß/g, "ss")
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "")
    .replace(/\s+/gu, " ");
}

/** The keywords of every language, normalized, in one lookup: a customer may type any of them whatever their locale. */
export interface KeywordTable {
  readonly entries: ReadonlyMap<string, "opt_out" | "opt_in">;
  /** Longer texts are no keyword: they are never normalized. */
  readonly maxLength: number;
}

/**
 * Builds the lookup from the defaults with per-language overrides (a language
 * given replaces its defaults; an empty list turns it off). A word that is
 * opt-out in one place and opt-in in another is a configuration error.
 */
export function keywordTable(overrides: Readonly<Record<string, LanguageKeywords>> = {}): KeywordTable {
  const languages = { ...DEFAULT_KEYWORDS, ...overrides };
  const entries = new Map<string, "opt_out" | "opt_in">();
  let maxLength = 0;
  for (const [language, words] of Object.entries(languages)) {
    for (const [kind, list] of [["opt_out", words.optOut], ["opt_in", words.optIn]] as const) {
      for (const word of list) {
        const key = normalizeKeyword(word);
        if (!key) throw new Error(`consent keyword "${word}" (${language}) is empty once normalized`);
        const existing = entries.get(key);
        if (existing && existing !== kind) throw new Error(`consent keyword "${word}" (${language}) is both an opt-out and an opt-in keyword`);
        entries.set(key, kind);
        maxLength = Math.max(maxLength, word.length);
      }
    }
  }
  return { entries, maxLength };
}

/**
 * Classifies an inbound text: only a message that is a keyword as a whole
 * counts ("STOP" opts out, "please don't stop" does not). Room is left for
 * padding around the longest keyword before a text is ruled out unread.
 */
export function classifyInbound(table: KeywordTable, text: string): KeywordMatch {
  if (text.length === 0 || text.length > table.maxLength * 2 + 16) return "none";
  return table.entries.get(normalizeKeyword(text)) ?? "none";
}

/** How a consent change was recorded. */
export type ConsentSource = "keyword" | "rpc" | "import";

/** One recorded consent change: when, how, and its proof (the customer's message, the form text, the signed paper's reference). */
export interface ConsentRecord {
  readonly at: number;
  readonly source: ConsentSource;
  readonly proof: string;
}

/** A customer's marketing consent towards one business: the latest opt-in and the latest opt-out, each kept with its proof. */
export interface MarketingConsent {
  readonly optIn: ConsentRecord | undefined;
  readonly optOut: ConsentRecord | undefined;
}

export const NO_CONSENT: MarketingConsent = Object.freeze({ optIn: undefined, optOut: undefined });

/** Keeps the later record of a kind; an older change delivered late changes nothing. */
export function recordOptIn(consent: MarketingConsent, record: ConsentRecord): MarketingConsent {
  if (consent.optIn && consent.optIn.at >= record.at) return consent;
  return { optIn: record, optOut: consent.optOut };
}

export function recordOptOut(consent: MarketingConsent, record: ConsentRecord): MarketingConsent {
  if (consent.optOut && consent.optOut.at >= record.at) return consent;
  return { optIn: consent.optIn, optOut: record };
}

/** The consent after an inbound text: an opt-out or opt-in keyword records itself with the text as proof; anything else changes nothing. */
export function afterInboundText(consent: MarketingConsent, table: KeywordTable, text: string, at: number): MarketingConsent {
  const match = classifyInbound(table, text);
  if (match === "none") return consent;
  const record: ConsentRecord = { at, source: "keyword", proof: text };
  return match === "opt_out" ? recordOptOut(consent, record) : recordOptIn(consent, record);
}

/** Opted in now: an opt-in recorded and no opt-out at or after it (a tie is an opt-out). */
export function optedIn(consent: MarketingConsent): boolean {
  return consent.optIn !== undefined && (consent.optOut === undefined || consent.optOut.at < consent.optIn.at);
}

/**
 * A MARKETING template needs a recorded opt-in and no later opt-out. Both
 * refusals carry 131050 (the Cloud API's "user has stopped receipt of
 * marketing messages", the nearest code it has); their reasons tell an
 * opt-out from a missing opt-in. Other categories pass.
 */
export function checkMarketing(consent: MarketingConsent, marketing: boolean): Refusal | undefined {
  if (!marketing || optedIn(consent)) return undefined;
  return consent.optOut !== undefined ? refuse.marketingOptedOut() : refuse.marketingNotOptedIn();
}
