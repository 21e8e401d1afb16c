import { InvalidInput } from "@kontor/service-kit/errors";

export const placements = ["directory_search", "app_banner", "app_feed"] as const;
export type Placement = (typeof placements)[number];

/** The fixed interest taxonomy: advertisers pick from it, surfaces report from it; nothing else matches. */
export const interestTaxonomy = [
  "apparel",
  "beauty",
  "books",
  "electronics",
  "food_and_drink",
  "home_and_garden",
  "health_and_fitness",
  "travel",
  "automotive",
  "finance",
  "education",
  "entertainment",
  "sports",
  "pets",
  "kids_and_family",
  "real_estate",
] as const;
const interestSet: ReadonlySet<string> = new Set(interestTaxonomy);

export interface Targeting {
  countries: string[];
  regions: string[];
  languages: string[];
  minAge: number;
  maxAge: number;
  interests: string[];
  messagedWithinDays: number;
  orderedWithinDays: number;
  placements: Placement[];
  keywords: string[];
  /** Sponsored messages: followers of the business only. */
  followersOnly: boolean;
}

const MAX_LIST = 250;
const MIN_AGE = 13;
const MAX_AGE = 120;
const MAX_DAYS = 365;

function list(field: string, values: string[], ok: (v: string) => boolean, what: string): string[] {
  if (values.length > MAX_LIST) throw new InvalidInput(field, `at most ${MAX_LIST} values`);
  values.forEach((v, i) => {
    if (!ok(v)) throw new InvalidInput(`${field}[${i}]`, what);
  });
  return [...new Set(values)];
}

function days(field: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_DAYS) throw new InvalidInput(field, `must be 0-${MAX_DAYS}`);
  return n;
}

/** Checks targeting; each problem names its field (`targeting.countries[2]`). */
export function validateTargeting(t: Targeting): Targeting {
  const countries = list("targeting.countries", t.countries, (v) => /^[A-Z]{2}$/.test(v), "must be an ISO 3166-1 alpha-2 code such as PT");
  const regions = list("targeting.regions", t.regions, (v) => /^[A-Z]{2}-[A-Z0-9]{1,3}$/.test(v), "must be an ISO 3166-2 code such as PT-11");
  const languages = list("targeting.languages", t.languages, (v) => /^[a-z]{2,3}$/.test(v), "must be a BCP 47 primary language such as pt");
  const interests = list("targeting.interests", t.interests, (v) => interestSet.has(v), "is not in the interest taxonomy");
  const keywords = list("targeting.keywords", t.keywords.map((k) => k.trim().toLowerCase()), (v) => v.length > 0 && [...v].length <= 50, "must be 1-50 characters").slice(0, MAX_LIST);
  for (const [field, age] of [["targeting.min_age", t.minAge], ["targeting.max_age", t.maxAge]] as const) {
    if (!Number.isInteger(age) || (age !== 0 && (age < MIN_AGE || age > MAX_AGE))) throw new InvalidInput(field, `must be 0 or ${MIN_AGE}-${MAX_AGE}`);
  }
  if (t.minAge && t.maxAge && t.maxAge < t.minAge) throw new InvalidInput("targeting.max_age", "must be at least min_age");
  t.placements.forEach((p, i) => {
    if (!placements.includes(p)) throw new InvalidInput(`targeting.placements[${i}]`, "must be DIRECTORY_SEARCH, APP_BANNER or APP_FEED");
  });
  for (const region of regions) {
    if (countries.length > 0 && !countries.includes(region.slice(0, 2))) throw new InvalidInput("targeting.regions", `${region} is outside the targeted countries`);
  }
  return {
    countries,
    regions,
    languages,
    minAge: t.minAge,
    maxAge: t.maxAge,
    interests,
    messagedWithinDays: days("targeting.messaged_within_days", t.messagedWithinDays),
    orderedWithinDays: days("targeting.ordered_within_days", t.orderedWithinDays),
    placements: [...new Set(t.placements)],
    keywords,
    followersOnly: t.followersOnly === true,
  };
}

/**
 * Personal criteria need the viewer's ad personalization consent: region,
 * age, interests and prior interactions. Country, language, placement and
 * keywords are contextual (what the surface shows, not who the viewer is).
 */
export function isPersonalized(t: Targeting): boolean {
  return t.regions.length > 0 || t.minAge > 0 || t.maxAge > 0 || t.interests.length > 0 || t.messagedWithinDays > 0 || t.orderedWithinDays > 0;
}

/** What a request tells about its viewer. Personal fields are ignored unless `personalized`. */
export interface Viewer {
  customerId: string;
  /** The viewer turned ad personalization on (and is known). */
  personalized: boolean;
  country: string;
  region: string;
  language: string;
  age: number;
  interests: readonly string[];
  /** Lower case. */
  query: string;
}

/** When the viewer last messaged / ordered from a business (ms), if ever. */
export interface Interactions {
  lastMessagedMs(businessId: string): number | undefined;
  lastOrderedMs(businessId: string): number | undefined;
}

const DAY_MS = 86_400_000;

/** Targeting compiled for matching: sets instead of lists. */
export interface CompiledTargeting {
  personalized: boolean;
  countries: ReadonlySet<string> | undefined;
  regions: ReadonlySet<string> | undefined;
  languages: ReadonlySet<string> | undefined;
  minAge: number;
  maxAge: number;
  interests: readonly string[];
  messagedWithinMs: number;
  orderedWithinMs: number;
  keywords: readonly string[];
}

export function compileTargeting(t: Targeting): CompiledTargeting {
  const set = (v: string[]) => (v.length ? new Set(v) : undefined);
  return {
    personalized: isPersonalized(t),
    countries: set(t.countries),
    regions: set(t.regions),
    languages: set(t.languages),
    minAge: t.minAge,
    maxAge: t.maxAge,
    interests: t.interests,
    messagedWithinMs: t.messagedWithinDays * DAY_MS,
    orderedWithinMs: t.orderedWithinDays * DAY_MS,
    keywords: t.keywords,
  };
}

/**
 * Does the viewer match? A personalized campaign never matches a viewer
 * without personalization consent, whatever the request claims.
 */
export function matchesTargeting(t: CompiledTargeting, businessId: string, viewer: Viewer, interactions: Interactions | undefined, nowMs: number): boolean {
  if (t.countries && !t.countries.has(viewer.country)) return false;
  if (t.languages && !t.languages.has(viewer.language)) return false;
  if (t.keywords.length > 0 && !t.keywords.some((k) => viewer.query.includes(k))) return false;
  if (!t.personalized) return true;
  if (!viewer.personalized) return false;
  if (t.regions && !t.regions.has(viewer.region)) return false;
  if (t.minAge && !(viewer.age >= t.minAge)) return false;
  if (t.maxAge && !(viewer.age > 0 && viewer.age <= t.maxAge)) return false;
  if (t.interests.length > 0 && !t.interests.some((i) => viewer.interests.includes(i))) return false;
  if (t.messagedWithinMs > 0) {
    const at = interactions?.lastMessagedMs(businessId);
    if (at === undefined || nowMs - at > t.messagedWithinMs) return false;
  }
  if (t.orderedWithinMs > 0) {
    const at = interactions?.lastOrderedMs(businessId);
    if (at === undefined || nowMs - at > t.orderedWithinMs) return false;
  }
  return true;
}
