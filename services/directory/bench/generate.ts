import { CATEGORIES } from "../src/domain/taxonomy.js";
import type { OpeningHours } from "../src/domain/hours.js";
import { ABOUT_LINES, CITIES, HOURS_TEMPLATES, type City, type Lang, type Locale } from "./vocab.js";

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weightedPicker<T>(items: T[], weight: (t: T) => number): (r: number) => T {
  const cum: number[] = [];
  let total = 0;
  for (const it of items) {
    total += weight(it);
    cum.push(total);
  }
  return (r) => {
    const x = r * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo]!;
  };
}

const SMALL = new Set(["de", "da", "do", "dos", "das", "del", "la", "el", "y", "e", "&", "am", "of"]);
function titleCase(s: string): string {
  return s
    .split(" ")
    .map((w, i) => (i > 0 && SMALL.has(w) ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(" ");
}

const categoryWeight = (code: string) => (code.startsWith("food.") ? 3 : code.startsWith("retail.") ? 1.5 : 1);
const pickCity = weightedPicker(CITIES, (c) => c.weight);
const pickCategory = weightedPicker([...CATEGORIES], (c) => categoryWeight(c.code));
const pickHours = weightedPicker(
  HOURS_TEMPLATES.map((t, i) => ({ t, i })),
  (x) => x.t.weight,
);

const STREETS: Record<string, string[]> = {
  de: ["Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Dorfstraße", "Lindenallee", "Marktplatz"],
  en: ["High Street", "Main Street", "Church Road", "Park Avenue", "Station Road", "Market Street"],
  in: ["MG Road", "Station Road", "Gandhi Nagar", "Nehru Street", "Park Street", "Brigade Road"],
  pt: ["Rua das Flores", "Avenida Paulista", "Rua Augusta", "Rua da Consolação", "Avenida Atlântica", "Rua do Comércio"],
  es: ["Calle Mayor", "Avenida Insurgentes", "Calle Real", "Gran Vía", "Calle del Sol", "Paseo de la Reforma"],
  id: ["Jl. Sudirman", "Jl. Thamrin", "Jl. Malioboro", "Jl. Gatot Subroto", "Jl. Diponegoro", "Jl. Merdeka"],
};

export function hoursFromTemplate(index: number, timeZone: string): OpeningHours {
  const t = HOURS_TEMPLATES[index]!;
  return {
    timeZone,
    alwaysOpen: t.alwaysOpen ?? false,
    weekly: Object.entries(t.days).map(([day, ranges]) => ({
      weekday: Number(day),
      ranges: ranges.map(([openMinute, closeMinute]) => ({ openMinute, closeMinute })),
    })),
    exceptions: [],
  };
}

export interface GeneratedBusiness {
  id: string;
  displayName: string;
  category: string;
  about: string;
  description: string;
  city: City;
  street: string;
  postalCode: string;
  lat: number;
  lng: number;
  languages: string[];
  hoursTemplate: number;
  /** A dated exception (1 % of businesses), as a local date offset from the seed day. */
  exception?: { dayOffset: number; closed: boolean };
  followers: number;
  messageVolume: number;
  verified: boolean;
  createdAt: Date;
}

function nameFor(r: () => number, locale: Locale, typeWord: string): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const shape = pick(locale.templates);
  switch (shape) {
    case "type_surname":
      return `${typeWord} ${pick(locale.surnames)}`;
    case "surname_type":
      return `${pick(locale.surnames)} ${typeWord}`;
    case "given_type":
      return locale.lang === "en" && r() < 0.5 ? `${pick(locale.given)}'s ${typeWord}` : `${pick(locale.given)} ${typeWord}`;
    case "given_type_suffix":
      return `${pick(locale.given)} ${typeWord} ${pick(locale.suffixes)}`;
    case "adj_type":
      return `${pick(locale.adjectives)} ${typeWord}`;
    case "type_given":
      return `${typeWord} ${pick(locale.given)}`;
  }
}

/** Business number i of a run with this seed; the same (seed, i) always gives the same business. */
export function generateBusiness(seed: number, i: number, epochDay: number): GeneratedBusiness {
  const r = prng(seed * 1_000_003 + i * 7919 + 17);
  r();
  const city = pickCity(r());
  const locale = city.locale;
  const category = pickCategory(r());
  const words = category.keywords[locale.lang];
  const typeWord = titleCase(words[r() < 0.7 ? 0 : Math.min(1, words.length - 1)]!);
  const displayName = nameFor(r, locale, typeWord);
  // Gaussian scatter around the centre; bigger cities spread further.
  const sigmaKm = 4 + 2.2 * Math.sqrt(city.weight);
  const u1 = Math.max(r(), 1e-9);
  const u2 = r();
  const rad = Math.min(3, Math.sqrt(-2 * Math.log(u1))) * sigmaKm;
  const dx = rad * Math.cos(2 * Math.PI * u2);
  const dy = rad * Math.sin(2 * Math.PI * u2);
  const lat = city.lat + dy / 111.2;
  const lng = city.lng + dx / (111.2 * Math.cos((city.lat * Math.PI) / 180));
  const languages: string[] = [locale.lang];
  if (locale.extra && r() < 0.3) languages.push(locale.extra);
  const tpl = pickHours(r()).i;
  const exception = r() < 0.01 ? { dayOffset: Math.floor(r() * 4) - 1, closed: r() < 0.6 } : undefined;
  // Heavy-tailed popularity: most businesses have a handful of followers.
  // Pareto (alpha 0.9): median ~1, ~3 % above 50, a few dozen above 100k.
  const followers = Math.min(2_000_000, Math.floor((1 - r()) ** (-1 / 0.9)) - 1);
  const messageVolume = Math.floor(followers * (1 + r() * 10) + r() * 40);
  const verified = followers > 800 ? r() < 0.5 : r() < 0.004;
  const about = ABOUT_LINES[locale.lang as Lang][Math.floor(r() * ABOUT_LINES[locale.lang as Lang].length)]!;
  const streets = STREETS[locale.key]!;
  const street = `${streets[Math.floor(r() * streets.length)]!} ${1 + Math.floor(r() * 200)}`;
  const postalCode = String(10000 + Math.floor(r() * 89999));
  const createdAt = new Date((epochDay - Math.floor(r() * 1100)) * 86_400_000 + Math.floor(r() * 86_400_000));
  return {
    id: `biz_b${i.toString(36).padStart(5, "0")}`,
    displayName,
    category: category.code,
    about,
    description: `${typeWord}, ${city.name}. ${about}.`,
    city,
    street,
    postalCode,
    lat,
    lng,
    languages,
    hoursTemplate: tpl,
    exception,
    followers,
    messageVolume,
    verified,
    createdAt,
  };
}
