/**
 * Phone numbers as the Cloud API takes them (cloud-api.md §1.1): `+`, `-`,
 * `(`, `)`, dots and spaces are tolerated; a number without a country code
 * gets the sending business number's.
 */

/** ITU country calling codes of two digits; 1 and 7 are the one-digit ones, every other code has three. */
const TWO_DIGIT_CODES = new Set([
  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
  "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
  "86", "90", "91", "92", "93", "94", "95", "98",
]);

/** The calling code an E.164 number (digits, with or without +) starts with. */
export function callingCode(e164: string): string {
  const digits = e164.replace(/^\+/, "");
  if (digits.startsWith("1") || digits.startsWith("7")) return digits.slice(0, 1);
  const two = digits.slice(0, 2);
  return TWO_DIGIT_CODES.has(two) ? two : digits.slice(0, 3);
}

/** A national number is at most this long; longer digit strings already carry a country code. */
const NATIONAL_MAX = 10;

export type Normalized = { ok: true; waId: string; e164: string } | { ok: false; problem: string };

/**
 * `to` → the WhatsApp id (digits only) and E.164. With a leading `+` or `00`
 * the digits are taken as they are; otherwise a number of at most 10 digits,
 * or one with a trunk prefix 0, is national and gets the business number's
 * calling code, and a longer one is taken to start with its own code.
 */
export function normalizePhone(input: string, businessE164: string): Normalized {
  const trimmed = input.trim();
  if (trimmed === "") return { ok: false, problem: "is required" };
  if (!/^[+\d\s().-]+$/.test(trimmed)) return { ok: false, problem: "must be a phone number (digits, with +, spaces, dashes, dots or parentheses)" };
  if (trimmed.indexOf("+") > 0 || (trimmed.match(/\+/g) ?? []).length > 1) return { ok: false, problem: "may hold + only at its start" };
  let digits = trimmed.replace(/\D/g, "");
  const international = trimmed.startsWith("+") || digits.startsWith("00");
  if (digits.startsWith("00")) digits = digits.slice(2);
  if (!international && (digits.length <= NATIONAL_MAX || digits.startsWith("0"))) {
    digits = callingCode(businessE164) + digits.replace(/^0+/, "");
  }
  if (digits.length < 8 || digits.length > 15) return { ok: false, problem: "must have 8 to 15 digits with its country code" };
  if (digits.startsWith("0")) return { ok: false, problem: "must start with a country code" };
  return { ok: true, waId: digits, e164: `+${digits}` };
}

/** Digits only, as webhook metadata and wa_id show numbers. */
export function digitsOf(e164: string): string {
  return e164.replace(/\D/g, "");
}
