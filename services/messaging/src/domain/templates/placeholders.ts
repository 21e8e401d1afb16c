import { InvalidInput } from "@kontor/service-kit/errors";

/** One `{{…}}` in a template text: `{{1}}` (positional) or `{{first_name}}` (named). */
export interface Placeholder {
  key: string;
  kind: "positional" | "named";
  /** Offset of the opening braces in the text. */
  at: number;
  /** Length of the whole token. */
  length: number;
}

const TOKEN = /\{\{([^{}]*)\}\}/g;
const POSITIONAL = /^[1-9][0-9]{0,2}$/;
/** Named parameters: lowercase a–z, digits and underscores, starting with a letter (cloud-api.md §1.10, §4.2). */
const NAMED = /^[a-z][a-z0-9_]{0,63}$/;

/** The Cloud API code of a template's header/body/footer format error (cloud-api.md §2.3). */
export const FORMAT_CODE = 2388047;

/**
 * The placeholders of a text, in order. A token that is neither form, a
 * stray `{{` or `}}`, or a nested one is InvalidInput naming the field.
 */
export function placeholdersOf(text: string, field: string): Placeholder[] {
  const out: Placeholder[] = [];
  let rest = "";
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    const key = m[1]!;
    if (text[m.index - 1] === "{" || text[m.index + m[0].length] === "}") throw new InvalidInput(field, "has an unclosed or nested placeholder", "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
    if (POSITIONAL.test(key)) out.push({ key, kind: "positional", at: m.index, length: m[0].length });
    else if (NAMED.test(key)) out.push({ key, kind: "named", at: m.index, length: m[0].length });
    else throw new InvalidInput(field, `placeholder {{${key}}} must be {{1}}, {{2}}, … or a lowercase name such as {{first_name}}`, "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
    rest += text.slice(last, m.index);
    last = m.index + m[0].length;
  }
  rest += text.slice(last);
  if (rest.includes("{{") || rest.includes("}}")) throw new InvalidInput(field, "has an unclosed or nested placeholder", "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
  return out;
}

/**
 * Checks a component's placeholders against the template's parameter format
 * and returns their keys in order: positional ones are exactly {{1}}…{{n}},
 * each once, in that order; named ones are unique; the two never mix.
 */
export function checkPlaceholders(ps: Placeholder[], format: "positional" | "named", field: string): string[] {
  for (const p of ps) {
    if (p.kind !== format) {
      throw new InvalidInput(field, `{{${p.key}}} is ${p.kind} but the template's parameter_format is ${format === "named" ? "NAMED" : "POSITIONAL"}; placeholders do not mix`, "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
    }
  }
  const keys = ps.map((p) => p.key);
  if (format === "positional") {
    keys.forEach((key, i) => {
      if (Number(key) !== i + 1) throw new InvalidInput(field, `placeholders must be {{1}} to {{${keys.length}}}, each once and in order; found {{${key}}} at position ${i + 1}`, "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
    });
  } else {
    const seen = new Set<string>();
    for (const key of keys) {
      if (seen.has(key)) throw new InvalidInput(field, `{{${key}}} appears twice; named placeholders are unique`, "TEMPLATE_PLACEHOLDER", FORMAT_CODE);
      seen.add(key);
    }
  }
  return keys;
}
