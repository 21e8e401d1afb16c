import { randomBytes, randomInt } from "node:crypto";
import type { Kysely } from "kysely";
import { LRUCache } from "lru-cache";
import { AlreadyExists, ConcurrentUpdate, InvalidInput, NotFound } from "@kontor/service-kit/errors";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { DirectoryDatabase } from "../store/database.js";
import type { BusinessRow, PhoneNumberRow } from "../store/business.table.js";
import {
  addSearchWords,
  databaseKnowsZone,
  findBusiness,
  findBusinessByHandle,
  findPhoneNumber,
  followerCounts,
  listPhoneNumbers,
  numbersTakenElsewhere,
  insertBusiness,
  replacePhoneNumbers,
  similarVerifiedNames,
  updateBusiness,
  upsertSearchRow,
  type SearchProjection,
} from "../store/business-store.js";
import {
  normalizeWords,
  prepareQuery,
  searchBusinesses,
  suggestBusinesses,
  type SearchParams,
  type SearchRow,
  type SuggestParams,
} from "../store/search-store.js";
import { businessRegisteredEvent, businessUpdatedEvent, verificationRevokedEvent } from "../events/outbox.js";
import {
  applyMask,
  BUSINESS_ID,
  changedFields,
  parseMask,
  validateProfile,
  type Business,
  type PhoneNumber,
  type Profile,
  type VerificationState,
} from "./business.js";
import { multirangeLiteral, openState, searchHours, type OpenState } from "./hours.js";
import { coveringCells, geoLexemes, validatePoint, type LatLng } from "./geo.js";
import {
  BROAD_ESTIMATE,
  buildTextQuery,
  candidateLimit,
  decodeSearchCursor,
  encodeSearchCursor,
  fingerprint,
  LOCAL_RADIUS_KM,
  MAX_RESULT_WINDOW,
  quoteLexeme,
  searchCells,
  validateSearch,
  type PreparedToken,
  type SearchRequest,
} from "./search.js";

export interface DirectoryPorts {
  db: Kysely<DirectoryDatabase>;
  enqueue(trx: Kysely<DirectoryDatabase>, events: OutboxEvent[]): Promise<void>;
  /** The clock open_now and IsOpen read (tests pin it); snapshots use the real clock. */
  clock?: () => Date;
}

/** Suggestions near the caller also look everywhere only when the typed words are this specific. */
const SPECIFIC_NEAR = 2000;

/** Display-name similarity that counts as impersonating a verified business. */
export const IMPERSONATION = { similarity: 0.6, containment: 0.9, minContainedLength: 5 } as const;

export function businessRowToBusiness(row: BusinessRow, numbers: PhoneNumberRow[], followerCount: number): Business {
  return {
    id: row.id,
    profile: {
      displayName: row.display_name,
      legalName: row.legal_name,
      category: row.category,
      description: row.description,
      about: row.about,
      address: {
        street: row.address.street ?? "",
        city: row.address.city ?? "",
        postalCode: row.address.postalCode ?? "",
        region: row.address.region ?? "",
        location: row.lat !== null && row.lng !== null ? { lat: row.lat, lng: row.lng } : undefined,
      },
      country: row.country,
      languages: row.languages,
      hours: row.hours ?? undefined,
      websites: row.websites,
      email: row.email,
      profilePictureUrl: row.profile_picture_url,
      phoneNumbers: numbers.map((n) => ({ phoneNumberId: n.phone_number_id, e164: n.e164, displayName: n.display_name })),
      handle: row.handle ?? "",
    },
    verified: row.verified,
    verifiedName: row.verified_name,
    verificationState: row.verification_state as VerificationState,
    followerCount,
    partnerId: row.partner_id ?? "",
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The search row for a business: what the index needs, nothing more. */
export function projectionOf(b: Business): SearchProjection {
  const loc = b.profile.address.location;
  const sh = b.profile.hours ? searchHours(b.profile.hours) : undefined;
  return {
    businessId: b.id,
    displayName: b.profile.displayName,
    category: b.profile.category,
    country: b.profile.country,
    languages: [...new Set(b.profile.languages.map((l) => l.split("-")[0]!.toLowerCase()))],
    city: b.profile.address.city,
    body: `${b.profile.about} ${b.profile.description}`.trim(),
    lat: loc?.lat ?? null,
    lng: loc?.lng ?? null,
    cells: loc ? geoLexemes(loc) : [],
    verified: b.verified,
    timeZone: b.profile.hours?.timeZone ?? null,
    openWeek: sh ? multirangeLiteral(sh.week) : null,
    excRegion: sh && sh.exceptionRegion.length > 0 ? multirangeLiteral(sh.exceptionRegion) : null,
    excOpen: sh && sh.exceptionRegion.length > 0 ? multirangeLiteral(sh.exceptionOpen) : null,
  };
}

/**
 * Words of a query split the way PostgreSQL's parser would for plain text
 * (letters and digits, apostrophes and spaces between them), lower-cased
 * without accents for a cache key; undefined when the text has anything
 * the parser treats specially.
 */
export function simpleWords(text: string): string[] | undefined {
  if (!/^[\p{L}\p{M}\p{N}\s',&]*$/u.test(text)) return undefined;
  const words = text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
  return words.slice(0, 8);
}

/** Cloud-API-shaped phone number id: 15 digits. */
function newPhoneNumberId(): string {
  return `${randomInt(1, 10)}${String(randomInt(0, 10_000_000)).padStart(7, "0")}${String(randomInt(0, 10_000_000)).padStart(7, "0")}`;
}

function newBusinessId(): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  return `biz_${[...randomBytes(14)].map((b) => alphabet[b % 36]).join("")}`;
}

export interface SearchHit {
  businessId: string;
  displayName: string;
  category: string;
  about: string;
  city: string;
  country: string;
  verified: boolean;
  profilePictureUrl: string;
  followerCount: number;
  languages: string[];
  location?: LatLng;
  handle: string;
  distanceKm?: number;
  openNow: boolean;
  score: number;
}

function hitOf(r: SearchRow): SearchHit {
  return {
    businessId: r.business_id,
    displayName: r.display_name,
    category: r.category,
    about: r.about,
    city: r.city,
    country: r.country,
    verified: r.verified,
    profilePictureUrl: r.profile_picture_url,
    followerCount: r.follower_count,
    languages: r.languages,
    location: r.lat !== null && r.lng !== null ? { lat: r.lat, lng: r.lng } : undefined,
    handle: r.handle ?? "",
    distanceKm: r.distance_km ?? undefined,
    openNow: r.open_now,
    score: r.score,
  };
}

export interface Actor {
  /** principalLabel() of the caller, for the record. */
  label: string;
  partnerId?: string;
}

/** Profile, search and hours use cases; authorization happens in the rpc layer before these run. */
/** The business row's profile columns, shared by register and update. */
function profileColumns(profile: Profile) {
  return {
    display_name: profile.displayName,
    legal_name: profile.legalName,
    category: profile.category,
    description: profile.description,
    about: profile.about,
    address: JSON.stringify({ street: profile.address.street, city: profile.address.city, postalCode: profile.address.postalCode, region: profile.address.region }),
    lat: profile.address.location?.lat ?? null,
    lng: profile.address.location?.lng ?? null,
    country: profile.country,
    languages: profile.languages,
    hours: profile.hours ? JSON.stringify(profile.hours) : null,
    websites: profile.websites,
    email: profile.email,
    profile_picture_url: profile.profilePictureUrl,
    handle: profile.handle || null,
  };
}

export function createDirectoryService(ports: DirectoryPorts) {
  const { db } = ports;
  const clock = ports.clock ?? (() => new Date());
  const knownZones = new Set<string>();
  // Word statistics change slowly; a minute of staleness only shifts a typo correction.
  const preparedCache = new LRUCache<string, PreparedToken>({ max: 20_000, ttl: 60_000 });
  const wordsCache = new LRUCache<string, string[]>({ max: 20_000, ttl: 10 * 60_000 });

  async function load(executor: Kysely<DirectoryDatabase>, id: string, lock = false): Promise<Business | undefined> {
    const row = await findBusiness(executor, id, lock);
    if (!row) return undefined;
    const [numbers, counts] = await Promise.all([listPhoneNumbers(executor, [id]), followerCounts(executor, [id])]);
    return businessRowToBusiness(row, numbers, counts.get(id) ?? 0);
  }

  /** PostgreSQL evaluates open_now per row, so it must know the zone too. */
  async function checkZone(profile: Profile): Promise<void> {
    const tz = profile.hours?.timeZone;
    if (!tz || knownZones.has(tz)) return;
    if (!(await databaseKnowsZone(db, tz))) throw new InvalidInput("profile.hours.time_zone", "is not in the database's time zone list");
    knownZones.add(tz);
  }

  async function checkName(trx: Kysely<DirectoryDatabase>, name: string, businessId: string): Promise<void> {
    const similar = await similarVerifiedNames(trx, name, businessId, IMPERSONATION);
    const first = similar[0];
    if (first) {
      throw new InvalidInput("profile.display_name", `is too close to the verified business "${first.displayName}"`, "NAME_IMPERSONATION");
    }
  }

  async function checkUnique(trx: Kysely<DirectoryDatabase>, profile: Profile, businessId: string): Promise<void> {
    if (profile.handle) {
      const owner = await findBusinessByHandle(trx, profile.handle);
      if (owner && owner.id !== businessId) throw new AlreadyExists("handle", "profile.handle");
    }
    const taken = await numbersTakenElsewhere(
      trx,
      businessId,
      profile.phoneNumbers.map((n) => n.e164),
    );
    const i = profile.phoneNumbers.findIndex((n) => taken.includes(n.e164));
    if (i >= 0) throw new AlreadyExists("phone number", `profile.phone_numbers[${i}].e164`);
  }

  function withIds(numbers: PhoneNumber[], existing: PhoneNumber[]): PhoneNumber[] {
    return numbers.map((n) => ({ ...n, phoneNumberId: existing.find((e) => e.e164 === n.e164)?.phoneNumberId || newPhoneNumberId() }));
  }

  /**
   * Query words as the index sees them. Plain word queries are cached word
   * by word (common words repeat across otherwise different queries); the
   * database only sees the words not cached yet. Anything the text parser
   * might read differently (hyphens, e-mail addresses, URLs) goes whole.
   */
  async function prepared(query: string): Promise<PreparedToken[]> {
    const words = simpleWords(query);
    if (!words) return prepareQuery(db, query);
    const missing = [...new Set(words.filter((w) => !preparedCache.get(w)))];
    if (missing.length > 0) {
      const fetched = await prepareQuery(db, missing.join(" "));
      if (fetched.length !== missing.length) return prepareQuery(db, query);
      missing.forEach((w, i) => preparedCache.set(w, fetched[i]!));
    }
    const out: PreparedToken[] = [];
    for (const w of words) {
      const t = preparedCache.get(w);
      if (!t) return prepareQuery(db, query);
      if (!out.some((o) => o.word === t.word)) out.push(t);
    }
    return out;
  }

  /** Same for suggestions: the normalised form of each typed word. */
  async function normalized(text: string): Promise<string[]> {
    const words = simpleWords(text);
    if (!words) return normalizeWords(db, text);
    // Plain ASCII words need no database to normalise: lower case is all unaccent + lower would do.
    for (const w of words) if (/^[a-z0-9]+$/.test(w) && wordsCache.get(w) === undefined) wordsCache.set(w, [w]);
    const missing = [...new Set(words.filter((w) => wordsCache.get(w) === undefined))];
    if (missing.length > 0) {
      const fetched = await Promise.all(missing.map((w) => normalizeWords(db, w)));
      missing.forEach((w, i) => wordsCache.set(w, fetched[i]!));
    }
    return words.flatMap((w) => wordsCache.get(w) ?? []);
  }

  /** Validated filters → the statement's parameters (also used by the benchmark to EXPLAIN). */
  async function planSearch(req: SearchRequest, page: { pageSize: number; pageToken: string }) {
    const filters = validateSearch(req);
    const cursor = decodeSearchCursor(page.pageToken, filters);
    const served = cursor?.n ?? 0;
    const pageSize = Math.min(page.pageSize, MAX_RESULT_WINDOW - served);
    const asOf = cursor ? new Date(cursor.t) : new Date();
    const at = cursor ? new Date(cursor.a) : clock();
    const base = { filters, served, pageSize, asOf, at };
    if (pageSize <= 0) return { ...base, text: undefined, params: undefined };
    const text = filters.query ? buildTextQuery(await prepared(filters.query), req.query) : undefined;
    // A query with no words (only symbols) finds nothing rather than everything.
    if (filters.query && !text) return { ...base, text, params: undefined };
    const cells = searchCells(filters.near);
    const params: SearchParams = {
      text,
      broad: text ? text.estimate > BROAD_ESTIMATE : false,
      category: filters.category,
      near: filters.near,
      radiusCells: cells.radius,
      localCells: cells.local,
      nearbyCells: cells.nearby,
      openNow: filters.openNow,
      at,
      verifiedOnly: filters.verifiedOnly,
      language: filters.language,
      country: filters.country,
      asOf,
      k: candidateLimit(served, pageSize),
      after: cursor ? { score: cursor.s, id: cursor.id } : undefined,
      limit: pageSize + 1,
    };
    return { ...base, text, params };
  }

  async function planSuggest(input: { prefix: string; near?: { latitude: number; longitude: number }; limit: number }): Promise<SuggestParams | undefined> {
    if (input.prefix.length > 100) throw new InvalidInput("prefix", "must be at most 100 characters");
    if (input.limit < 0) throw new InvalidInput("limit", "must not be negative");
    const limit = Math.min(input.limit || 8, 20);
    const near = input.near ? { ...validatePoint({ lat: input.near.latitude, lng: input.near.longitude }, "near"), radiusKm: 0 } : undefined;
    const words = (await normalized(input.prefix)).slice(0, 8);
    if (words.length === 0) return undefined;
    const complete = /\s$/.test(input.prefix);
    const last = words[words.length - 1]!;
    // A partial word is its first four letters as a plain lexeme ("^pizz", see dir_name_doc); longer ones are refined on the names.
    const lexemes = words.map((w, i) => (i === words.length - 1 && !complete ? `^${w.slice(0, 4)}` : w));
    const tsquery = lexemes.map(quoteLexeme).join(" & ");
    return {
      tsquery,
      refine: !complete && last.length > 4 ? last : undefined,
      // The rarest typed word bounds the work: common ones ("pizz", "toko") only pay for popular and nearby
      // names; with a location, names far away only matter when the words are specific.
      lexemes,
      specific: near ? SPECIFIC_NEAR : BROAD_ESTIMATE,
      normalized: words.join(" "),
      near,
      localCells: near ? coveringCells(near, LOCAL_RADIUS_KM) : undefined,
      k: 24,
      limit,
    };
  }

  async function get(id: string): Promise<Business> {
    const b = id ? await load(db, id) : undefined;
    if (!b) throw new NotFound("business");
    return b;
  }

  return {
    async register(input: { businessId: string; profile: Profile; actor: Actor }): Promise<Business> {
      if (input.businessId && !BUSINESS_ID.test(input.businessId)) {
        throw new InvalidInput("business_id", "must be 3-64 characters: a-z, 0-9, '_' and '-'");
      }
      const id = input.businessId || newBusinessId();
      const profile = validateProfile(input.profile);
      await checkZone(profile);
      return db.transaction().execute(async (trx) => {
        if (await findBusiness(trx, id)) throw new AlreadyExists("business", "business_id");
        await checkName(trx, profile.displayName, id);
        await checkUnique(trx, profile, id);
        const row = await insertBusiness(trx, {
          id,
          ...profileColumns(profile),
          partner_id: input.actor.partnerId ?? null,
          registered_by: input.actor.label,
        });
        const numbers = await replacePhoneNumbers(trx, id, withIds(profile.phoneNumbers, []));
        const business = businessRowToBusiness(row, numbers, 0);
        await upsertSearchRow(trx, projectionOf(business));
        await addSearchWords(trx, id);
        await ports.enqueue(trx, [businessRegisteredEvent(business)]);
        return business;
      });
    },

    get,

    async update(input: { businessId: string; patch: Profile; paths: string[]; expectedVersion: number }): Promise<Business> {
      const paths = parseMask(input.paths);
      const result = await db.transaction().execute(async (trx) => {
        const current = await load(trx, input.businessId, true);
        if (!current) throw new NotFound("business");
        if (input.expectedVersion > 0 && input.expectedVersion !== current.version) {
          throw new ConcurrentUpdate(`business is at version ${current.version}, not ${input.expectedVersion}`);
        }
        const profile = validateProfile(applyMask(current.profile, input.patch, paths));
        profile.phoneNumbers = withIds(profile.phoneNumbers, current.profile.phoneNumbers);
        const changed = changedFields(current.profile, profile);
        if (changed.length === 0) return current;
        await checkZone(profile);
        const renamed = changed.includes("display_name");
        if (renamed) await checkName(trx, profile.displayName, current.id);
        await checkUnique(trx, profile, current.id);
        // An official account's badge belongs to its name: renaming drops it until verified again.
        const dropBadge = renamed && current.verified;
        const row = await updateBusiness(trx, current.id, {
          ...profileColumns(profile),
          ...(dropBadge ? { verified: false, verification_state: "revoked", verified_at: null } : {}),
        });
        const numbers = changed.includes("phone_numbers") ? await replacePhoneNumbers(trx, current.id, profile.phoneNumbers) : await listPhoneNumbers(trx, [current.id]);
        const business = businessRowToBusiness(row, numbers, current.followerCount);
        await upsertSearchRow(trx, projectionOf(business));
        if (renamed || changed.includes("address") || changed.includes("category")) await addSearchWords(trx, current.id);
        const events = [businessUpdatedEvent(business, changed)];
        if (dropBadge) events.push(verificationRevokedEvent(business, "display name changed"));
        await ports.enqueue(trx, events);
        return business;
      });
      return result;
    },

    async lookup(key: { phoneNumber?: string; phoneNumberId?: string; handle?: string }): Promise<{ business: Business; phoneNumber?: PhoneNumber }> {
      if (key.handle !== undefined) {
        const row = await findBusinessByHandle(db, key.handle.trim().toLowerCase().replace(/^@/, ""));
        if (!row) throw new NotFound("business");
        return { business: await get(row.id) };
      }
      const number = await findPhoneNumber(db, { e164: key.phoneNumber?.replace(/[\s()-]/g, ""), phoneNumberId: key.phoneNumberId });
      if (!number) throw new NotFound("business");
      return {
        business: await get(number.business_id),
        phoneNumber: { phoneNumberId: number.phone_number_id, e164: number.e164, displayName: number.display_name },
      };
    },

    async search(req: SearchRequest, page: { pageSize: number; pageToken: string }) {
      const plan = await planSearch(req, page);
      if (!plan.params) return { hits: [] as SearchHit[], nextPageToken: "", corrected: undefined };
      const { params, served, pageSize, filters, asOf, at, text } = plan;
      const rows = await searchBusinesses(db, params);
      const hits = rows.slice(0, pageSize).map(hitOf);
      const last = hits[hits.length - 1];
      const more = rows.length > pageSize && last && served + hits.length < MAX_RESULT_WINDOW;
      return {
        hits,
        nextPageToken: more ? encodeSearchCursor({ s: last.score, id: last.businessId, t: asOf.getTime(), a: at.getTime(), n: served + hits.length, q: fingerprint(filters) }) : "",
        corrected: text?.corrected,
      };
    },

    async suggest(input: { prefix: string; near?: { latitude: number; longitude: number }; limit: number }): Promise<SearchHit[]> {
      const params = await planSuggest(input);
      return params ? (await suggestBusinesses(db, params)).map(hitOf) : [];
    },

    planSearch,
    planSuggest,

    async isOpen(businessId: string, at: Date | undefined): Promise<{ state?: OpenState; timeZone: string }> {
      const b = await get(businessId);
      if (!b.profile.hours) return { timeZone: "" };
      return { state: openState(b.profile.hours, at ?? clock()), timeZone: b.profile.hours.timeZone };
    },

    load,
  };
}

export type DirectoryService = ReturnType<typeof createDirectoryService>;
