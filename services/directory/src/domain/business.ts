import { InvalidInput } from "@kontor/service-kit/errors";
import { isCategory } from "./taxonomy.js";
import { validateHours, type OpeningHours } from "./hours.js";
import { validatePoint, type LatLng } from "./geo.js";

export interface PhoneNumber {
  phoneNumberId: string;
  e164: string;
  displayName: string;
}

export interface Address {
  street: string;
  city: string;
  postalCode: string;
  region: string;
  location?: LatLng;
}

/** What a business edits; phone numbers carry ids once stored. */
export interface Profile {
  displayName: string;
  legalName: string;
  category: string;
  description: string;
  about: string;
  address: Address;
  country: string;
  languages: string[];
  hours?: OpeningHours;
  websites: string[];
  email: string;
  profilePictureUrl: string;
  phoneNumbers: PhoneNumber[];
  /** Empty when the business has none. */
  handle: string;
}

export type VerificationState = "unverified" | "pending" | "verified" | "rejected" | "revoked";

export interface Business {
  id: string;
  profile: Profile;
  verified: boolean;
  verifiedName: string;
  verificationState: VerificationState;
  followerCount: number;
  /** The partner (BSP) that registered and manages it; internal. */
  partnerId: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

// ISO 3166-1 alpha-2, officially assigned codes.
const COUNTRIES = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT " +
    "JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG " +
    "NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH " +
    "TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
  ).split(" "),
);

export const LIMITS = {
  displayName: 100,
  legalName: 200,
  description: 512,
  about: 139,
  websites: 2,
  url: 2000,
  languages: 10,
  phoneNumbers: 10,
} as const;

const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;
const HANDLE = /^[a-z0-9](?:[a-z0-9._]{1,28})[a-z0-9]$/;
export const BUSINESS_ID = /^[a-z0-9][a-z0-9_-]{2,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function isE164(value: string): boolean {
  return E164.test(value);
}

export function isCountry(code: string): boolean {
  return COUNTRIES.has(code);
}

function httpUrl(value: string, field: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || !url.hostname.includes(".") || value.length > LIMITS.url) {
    throw new InvalidInput(field, "must be an http(s) URL");
  }
  return value;
}

function text(value: string, field: string, max: number, required = false): string {
  const v = value.trim();
  if (required && !v) throw new InvalidInput(field, "is required");
  if (v.length > max) throw new InvalidInput(field, `must be at most ${max} characters`);
  if (CONTROL.test(v.replace(/[\n\t]/g, ""))) throw new InvalidInput(field, "must not contain control characters");
  return v;
}

/** Display-name rules of an official account: a real name, not a link or a slogan in capitals. */
export function validateDisplayName(value: string, field: string): string {
  const name = text(value, field, LIMITS.displayName, true).replace(/\s+/g, " ");
  if (name.length < 2) throw new InvalidInput(field, "must be at least 2 characters");
  if (!/\p{L}/u.test(name)) throw new InvalidInput(field, "must contain letters");
  if (/https?:\/\/|www\.|\.(com|net|org|io|de|br)\b/i.test(name)) throw new InvalidInput(field, "must not contain a web address");
  return name;
}

/** Validates a whole profile; errors name the field under `prefix` ("profile.websites[1]"). */
export function validateProfile(p: Profile, prefix = "profile"): Profile {
  const f = (name: string) => `${prefix}.${name}`;
  const displayName = validateDisplayName(p.displayName, f("display_name"));
  const legalName = text(p.legalName, f("legal_name"), LIMITS.legalName);
  if (!p.category) throw new InvalidInput(f("category"), "is required");
  if (!isCategory(p.category)) throw new InvalidInput(f("category"), "is not a category from ListCategories");
  const description = text(p.description, f("description"), LIMITS.description);
  const about = text(p.about, f("about"), LIMITS.about);
  const address: Address = {
    street: text(p.address.street, f("address.street"), 200),
    city: text(p.address.city, f("address.city"), 100),
    postalCode: text(p.address.postalCode, f("address.postal_code"), 20),
    region: text(p.address.region, f("address.region"), 100),
    location: p.address.location ? validatePoint(p.address.location, f("address.location")) : undefined,
  };
  const country = p.country.trim().toUpperCase();
  if (!country) throw new InvalidInput(f("country"), "is required");
  if (!COUNTRIES.has(country)) throw new InvalidInput(f("country"), "must be an ISO 3166-1 alpha-2 code");
  if (p.languages.length > LIMITS.languages) throw new InvalidInput(f("languages"), `at most ${LIMITS.languages} languages`);
  const languages: string[] = [];
  p.languages.forEach((tag, i) => {
    let canonical: string | undefined;
    try {
      canonical = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/.test(tag) ? Intl.getCanonicalLocales(tag)[0] : undefined;
    } catch {
      canonical = undefined;
    }
    if (!canonical) throw new InvalidInput(f(`languages[${i}]`), "must be a BCP 47 language tag such as pt-BR");
    if (!languages.includes(canonical)) languages.push(canonical);
  });
  const hours = p.hours ? validateHours(p.hours, f("hours")) : undefined;
  if (p.websites.length > LIMITS.websites) throw new InvalidInput(f("websites"), `at most ${LIMITS.websites} websites`);
  const websites = p.websites.map((w, i) => httpUrl(w.trim(), f(`websites[${i}]`)));
  const email = p.email.trim();
  if (email && (!EMAIL.test(email) || email.length > 254)) throw new InvalidInput(f("email"), "must be an email address");
  const profilePictureUrl = p.profilePictureUrl.trim() ? httpUrl(p.profilePictureUrl.trim(), f("profile_picture_url")) : "";
  if (p.phoneNumbers.length > LIMITS.phoneNumbers) throw new InvalidInput(f("phone_numbers"), `at most ${LIMITS.phoneNumbers} numbers`);
  const seen = new Set<string>();
  const phoneNumbers = p.phoneNumbers.map((n, i) => {
    const e164 = n.e164.replace(/[\s()-]/g, "");
    if (!E164.test(e164)) throw new InvalidInput(f(`phone_numbers[${i}].e164`), "must be an E.164 number such as +4915112345678");
    if (seen.has(e164)) throw new InvalidInput(f(`phone_numbers[${i}].e164`), "is listed twice");
    seen.add(e164);
    return { phoneNumberId: n.phoneNumberId, e164, displayName: text(n.displayName, f(`phone_numbers[${i}].display_name`), LIMITS.displayName) };
  });
  const handle = p.handle.trim().toLowerCase().replace(/^@/, "");
  if (handle && !HANDLE.test(handle)) throw new InvalidInput(f("handle"), "must be 3-30 characters: a-z, 0-9, dots and underscores");
  return { displayName, legalName, category: p.category, description, about, address, country, languages, hours, websites, email, profilePictureUrl, phoneNumbers, handle };
}

/** Field-mask paths UpdateBusiness accepts (relative to profile). */
export const MASK_PATHS = [
  "display_name",
  "legal_name",
  "category",
  "description",
  "about",
  "address",
  "address.street",
  "address.city",
  "address.postal_code",
  "address.region",
  "address.location",
  "country",
  "languages",
  "hours",
  "websites",
  "email",
  "profile_picture_url",
  "phone_numbers",
  "handle",
] as const;
export type MaskPath = (typeof MASK_PATHS)[number];

/** Checks a field mask; returns the top-level profile fields it touches. */
export function parseMask(paths: string[]): MaskPath[] {
  if (paths.length === 0) throw new InvalidInput("update_mask", "must name at least one field");
  return paths.map((path, i) => {
    const p = path.replace(/^profile\./, "");
    if (!(MASK_PATHS as readonly string[]).includes(p)) throw new InvalidInput(`update_mask.paths[${i}]`, `unknown field "${path}"`);
    return p as MaskPath;
  });
}

/** Copies the masked fields from `patch` onto `current`. */
export function applyMask(current: Profile, patch: Profile, paths: MaskPath[]): Profile {
  const next: Profile = { ...current, address: { ...current.address } };
  for (const path of paths) {
    switch (path) {
      case "display_name":
        next.displayName = patch.displayName;
        break;
      case "legal_name":
        next.legalName = patch.legalName;
        break;
      case "category":
        next.category = patch.category;
        break;
      case "description":
        next.description = patch.description;
        break;
      case "about":
        next.about = patch.about;
        break;
      case "address":
        next.address = { ...patch.address };
        break;
      case "address.street":
        next.address.street = patch.address.street;
        break;
      case "address.city":
        next.address.city = patch.address.city;
        break;
      case "address.postal_code":
        next.address.postalCode = patch.address.postalCode;
        break;
      case "address.region":
        next.address.region = patch.address.region;
        break;
      case "address.location":
        next.address.location = patch.address.location;
        break;
      case "country":
        next.country = patch.country;
        break;
      case "languages":
        next.languages = patch.languages;
        break;
      case "hours":
        next.hours = patch.hours;
        break;
      case "websites":
        next.websites = patch.websites;
        break;
      case "email":
        next.email = patch.email;
        break;
      case "profile_picture_url":
        next.profilePictureUrl = patch.profilePictureUrl;
        break;
      case "phone_numbers":
        next.phoneNumbers = patch.phoneNumbers;
        break;
      case "handle":
        next.handle = patch.handle;
        break;
    }
  }
  return next;
}

/** The top-level proto field names that differ (BusinessUpdated.changed_fields). */
export function changedFields(a: Profile, b: Profile): string[] {
  const pairs: [string, unknown, unknown][] = [
    ["display_name", a.displayName, b.displayName],
    ["legal_name", a.legalName, b.legalName],
    ["category", a.category, b.category],
    ["description", a.description, b.description],
    ["about", a.about, b.about],
    ["address", a.address, b.address],
    ["country", a.country, b.country],
    ["languages", a.languages, b.languages],
    ["hours", a.hours, b.hours],
    ["websites", a.websites, b.websites],
    ["email", a.email, b.email],
    ["profile_picture_url", a.profilePictureUrl, b.profilePictureUrl],
    ["phone_numbers", a.phoneNumbers.map((n) => [n.e164, n.displayName]), b.phoneNumbers.map((n) => [n.e164, n.displayName])],
    ["handle", a.handle, b.handle],
  ];
  return pairs.filter(([, x, y]) => JSON.stringify(x) !== JSON.stringify(y)).map(([name]) => name);
}
