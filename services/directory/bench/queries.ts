import type { SearchBusinessesRequest, SuggestBusinessesRequest } from "@kontor/proto/directory/v1/directory_service";
import { findCategory } from "../src/domain/taxonomy.js";
import { generateBusiness, prng, type GeneratedBusiness } from "./generate.js";

/** Data does not depend on the day the bench runs. */
export const EPOCH_DAY = Date.UTC(2026, 10, 23) / 86_400_000;

export type Kind = "text" | "typo" | "category_geo" | "open_now" | "autocomplete";
export interface Query {
  kind: Kind;
  search?: SearchBusinessesRequest;
  suggest?: SuggestBusinessesRequest;
  /** The business the query was made from, when it names one. */
  target?: GeneratedBusiness;
}

function searchReq(over: Partial<SearchBusinessesRequest>): SearchBusinessesRequest {
  return { query: "", category: "", near: undefined, openNow: false, verifiedOnly: false, language: "", country: "", page: { pageSize: 20, pageToken: "" }, ...over };
}

const nearOf = (b: GeneratedBusiness, r: () => number, radiusKm: number) => ({
  latitude: b.lat + (r() - 0.5) * 0.03,
  longitude: b.lng + (r() - 0.5) * 0.03,
  radiusKm,
});

/** One realistic typo in the longest word: drop, swap, replace or double a letter. */
function typo(name: string, r: () => number): string {
  const words = name.split(" ");
  let i = 0;
  words.forEach((w, j) => {
    if (w.length > words[i]!.length) i = j;
  });
  const w = [...words[i]!];
  if (w.length < 5) return name.toLowerCase();
  const p = 1 + Math.floor(r() * (w.length - 2));
  const op = Math.floor(r() * 4);
  if (op === 0) w.splice(p, 1);
  else if (op === 1) [w[p], w[p + 1]] = [w[p + 1]!, w[p]!];
  else if (op === 2) w[p] = "aeiourstln"[Math.floor(r() * 10)]!;
  else w.splice(p, 0, w[p]!);
  words[i] = w.join("");
  const out = words.join(" ");
  return r() < 0.3 ? out.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase() : out;
}

export function makeQueries(data: { count: number; seed: number; epochDay: number }, n: number): Query[] {
  const r = prng(data.seed * 31 + 5);
  const pick = () => generateBusiness(data.seed, Math.floor(r() * data.count), data.epochDay);
  const out: Query[] = [];
  for (let i = 0; i < n; i++) {
    // text: names (whole or two words), "<category word> <city>", or one generic word; half of them near the user.
    const b = pick();
    const words = b.displayName.split(" ");
    const cat = findCategory(b.category)!;
    const localWord = cat.keywords[b.languages[0] as "en"]![0]!;
    const x = r();
    const query =
      x < 0.45 && words.length > 2
        ? words.slice(0, 2).join(" ")
        : x < 0.65
          ? b.displayName
          : x < 0.85
            ? `${localWord} ${b.city.name}`
            : Object.values(cat.keywords)[Math.floor(r() * 5)]![0]!;
    const named = x < 0.65;
    out.push({ kind: "text", search: searchReq({ query, near: r() < 0.5 ? nearOf(b, r, 0) : undefined }), target: named ? b : undefined });
  }
  for (let i = 0; i < n; i++) {
    const b = pick();
    out.push({ kind: "typo", search: searchReq({ query: typo(b.displayName, r), near: r() < 0.5 ? nearOf(b, r, 0) : undefined }), target: b });
  }
  const radii = [1, 2, 5, 5, 10, 25];
  for (let i = 0; i < n; i++) {
    const b = pick();
    out.push({ kind: "category_geo", search: searchReq({ category: b.category, near: nearOf(b, r, radii[Math.floor(r() * radii.length)]!) }) });
  }
  for (let i = 0; i < n; i++) {
    const b = pick();
    out.push({ kind: "open_now", search: searchReq({ openNow: true, category: r() < 0.5 ? b.category : "", near: nearOf(b, r, [2, 5, 10][Math.floor(r() * 3)]!) }) });
  }
  for (let i = 0; i < n; i++) {
    const b = pick();
    const words = b.displayName.split(" ");
    const prefix = r() < 0.5 || words.length < 2 ? words[0]!.slice(0, 2 + Math.floor(r() * 5)) : `${words[0]} ${words[1]!.slice(0, 1 + Math.floor(r() * 4))}`;
    out.push({ kind: "autocomplete", suggest: { prefix, near: r() < 0.5 ? nearOf(b, r, 0) : undefined, limit: 8 }, target: b });
  }
  return out;
}

