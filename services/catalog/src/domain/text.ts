/**
 * Search text as the index and the queries see it: accents removed (NFKD
 * without combining marks), lower case, split into letters-and-digits words.
 * The same function builds the stored words and reads the query, so both
 * sides always agree.
 */
const MAX_WORD = 64;

export function normalizeWords(text: string): string[] {
  const plain = text.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase().replace(/ß/g, "ss").replace(/ø/g, "o").replace(/æ/g, "ae").replace(/œ/g, "oe").replace(/ł/g, "l");
  const out: string[] = [];
  for (const w of plain.split(/[^\p{L}\p{N}]+/u)) if (w) out.push(w.slice(0, MAX_WORD));
  return out;
}

/** The distinct words of a product's name and description, for its search document. */
export function searchText(name: string, description: string): string {
  return [...new Set([...normalizeWords(name), ...normalizeWords(description)])].join(" ");
}
