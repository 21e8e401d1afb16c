/**
 * Text helpers the flow definition, the engine and the FAQ matcher share:
 * how a customer's words are compared (lower case, no accents, no
 * punctuation, whole words) and how `{{variable}}` is filled.
 */

/** Lower case, accents and punctuation removed, single spaces: "¿Horário, ABERTO?" → "horario aberto". */
export function normalize(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** The normalized words of a text. */
export function words(text: string): string[] {
  const n = normalize(text);
  return n ? n.split(" ") : [];
}

/** Whether a text contains a word or phrase as whole words, ignoring case, accents and punctuation ("price" is not in "prices"). */
export function containsPhrase(text: string, phrase: string): boolean {
  const p = normalize(phrase);
  return p !== "" && ` ${normalize(text)} `.includes(` ${p} `);
}

/** A variable's name: lower case letters, digits and underscores, not starting with a digit. */
export const VARIABLE_NAME = /^[a-z_][a-z0-9_]{0,63}$/;

/** Variables every flow may use without capturing them; the caller fills them per conversation. */
export const BUILTIN_VARIABLES = ["customer_name", "customer_phone"] as const;

const TOKEN = /\{\{([^{}]*)\}\}/g;

/**
 * The variable names a text refers to with `{{name}}`. A malformed token
 * (`{{ Name }}`, `{{1}}`, a stray `{{` or `}}`) is reported as `{ bad }`.
 */
export function variablesIn(text: string): { names: string[]; bad?: string } {
  const names: string[] = [];
  let rest = "";
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const name = m[1]!;
    if (!VARIABLE_NAME.test(name)) return { names, bad: m[0] };
    names.push(name);
    rest += text.slice(last, m.index);
    last = m.index + m[0].length;
  }
  rest += text.slice(last);
  if (rest.includes("{{") || rest.includes("}}")) return { names, bad: rest.includes("{{") ? "{{" : "}}" };
  return { names };
}

/** Fills `{{name}}` from the variables; one never captured becomes empty. The result is cut to `max` characters. */
export function interpolate(text: string, variables: Readonly<Record<string, string>>, max = Infinity): string {
  const out = text.replace(TOKEN, (whole, name: string) => (VARIABLE_NAME.test(name) ? (Object.hasOwn(variables, name) ? variables[name]! : "") : whole));
  return cut(out, max);
}

/** A text cut to at most `max` UTF-16 units, never splitting a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text[max - 1] ?? "") ? max - 1 : max;
  return text.slice(0, end);
}
