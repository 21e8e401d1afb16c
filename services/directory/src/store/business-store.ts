import { sql, type Kysely } from "kysely";
import type { DirectoryDatabase } from "./database.js";
import type { BusinessRow, NewBusinessRow, PhoneNumberRow } from "./business.table.js";

type Db = Kysely<DirectoryDatabase>;

export async function insertBusiness(db: Db, row: NewBusinessRow): Promise<BusinessRow> {
  return db.insertInto("business").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findBusiness(db: Db, id: string, lock = false): Promise<BusinessRow | undefined> {
  let q = db.selectFrom("business").selectAll().where("id", "=", id);
  if (lock) q = q.forUpdate();
  return q.executeTakeFirst();
}

export async function findBusinessByHandle(db: Db, handle: string): Promise<BusinessRow | undefined> {
  return db.selectFrom("business").selectAll().where("handle", "=", handle).executeTakeFirst();
}

export type BusinessChanges = Partial<Omit<NewBusinessRow, "id" | "created_at" | "registered_by">>;

/** Applies changes and bumps the version; the caller holds the row lock. */
export async function updateBusiness(db: Db, id: string, changes: BusinessChanges): Promise<BusinessRow> {
  return db
    .updateTable("business")
    .set({ ...changes, version: sql<string>`version + 1`, updated_at: sql<Date>`clock_timestamp()` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listPhoneNumbers(db: Db, businessIds: string[]): Promise<PhoneNumberRow[]> {
  if (businessIds.length === 0) return [];
  return db.selectFrom("business_phone_number").selectAll().where("business_id", "in", businessIds).orderBy("business_id").orderBy("position").execute();
}

export async function findPhoneNumber(db: Db, key: { e164?: string; phoneNumberId?: string }): Promise<PhoneNumberRow | undefined> {
  let q = db.selectFrom("business_phone_number").selectAll();
  if (key.e164) q = q.where("e164", "=", key.e164);
  else if (key.phoneNumberId) q = q.where("phone_number_id", "=", key.phoneNumberId);
  else return undefined;
  return q.executeTakeFirst();
}

/** Numbers of other businesses among these (to name the clashing field). */
export async function numbersTakenElsewhere(db: Db, businessId: string, e164s: string[]): Promise<string[]> {
  if (e164s.length === 0) return [];
  const rows = await db.selectFrom("business_phone_number").select("e164").where("e164", "in", e164s).where("business_id", "<>", businessId).execute();
  return rows.map((r) => r.e164);
}

/** Makes the stored numbers equal `numbers` (in order), keeping ids of numbers that stay. */
export async function replacePhoneNumbers(db: Db, businessId: string, numbers: { phoneNumberId: string; e164: string; displayName: string }[]): Promise<PhoneNumberRow[]> {
  await db
    .deleteFrom("business_phone_number")
    .where("business_id", "=", businessId)
    .where(
      "e164",
      "not in",
      numbers.length > 0 ? numbers.map((n) => n.e164) : [""],
    )
    .execute();
  for (const [position, n] of numbers.entries()) {
    await db
      .insertInto("business_phone_number")
      .values({ phone_number_id: n.phoneNumberId, business_id: businessId, e164: n.e164, display_name: n.displayName, position })
      .onConflict((oc) => oc.column("e164").doUpdateSet({ display_name: n.displayName, position }).where("business_phone_number.business_id", "=", businessId))
      .execute();
  }
  return listPhoneNumbers(db, [businessId]);
}

export interface SearchProjection {
  businessId: string;
  displayName: string;
  category: string;
  country: string;
  /** Primary language subtags ("pt", not "pt-BR"). */
  languages: string[];
  city: string;
  body: string;
  lat: number | null;
  lng: number | null;
  cells: string[];
  verified: boolean;
  timeZone: string | null;
  openWeek: string | null;
  excRegion: string | null;
  excOpen: string | null;
}

/**
 * Rebuilds a business's search row with the same SQL functions the bench
 * seeder uses; popularity counters and created_at are left alone.
 */
export async function upsertSearchRow(db: Db, p: SearchProjection): Promise<void> {
  const geo = p.lat === null || p.lng === null ? sql`NULL` : sql`ll_to_earth(${p.lat}, ${p.lng})`;
  await sql`
    INSERT INTO business_search (business_id, display_name, doc, name_doc, category, country, languages, city, lat, lng, geo, verified,
                                 time_zone, open_week, exc_region, exc_open, created_at)
    VALUES (${p.businessId}, ${p.displayName},
            dir_doc(${p.displayName}, ${p.category}, ${p.city}, ${p.body}, ${p.languages}::text[], ${p.cells}::text[]),
            dir_name_doc(${p.displayName}, ${p.cells}::text[]),
            ${p.category}, ${p.country}, ${p.languages}::text[], ${p.city}, ${p.lat}, ${p.lng}, ${geo}, ${p.verified},
            ${p.timeZone}, ${p.openWeek}::int4multirange, ${p.excRegion}::int8multirange, ${p.excOpen}::int8multirange, clock_timestamp())
    ON CONFLICT (business_id) DO UPDATE SET
      display_name = excluded.display_name, doc = excluded.doc, name_doc = excluded.name_doc, category = excluded.category, country = excluded.country,
      languages = excluded.languages, city = excluded.city, lat = excluded.lat, lng = excluded.lng, geo = excluded.geo,
      verified = excluded.verified, time_zone = excluded.time_zone, open_week = excluded.open_week,
      exc_region = excluded.exc_region, exc_open = excluded.exc_open`.execute(db);
}

export async function setSearchVerified(db: Db, businessId: string, verified: boolean): Promise<void> {
  await db.updateTable("business_search").set({ verified }).where("business_id", "=", businessId).execute();
}

/**
 * Adds the words of a business's document (and its name prefixes "^pizz")
 * to the dictionary behind typo correction and query planning (sorted: no
 * deadlocks between writers).
 */
export async function addSearchWords(db: Db, businessId: string): Promise<void> {
  await sql`
    INSERT INTO search_word (word, n)
    SELECT DISTINCT t.lexeme, 1 FROM business_search s, LATERAL (
      SELECT lexeme FROM unnest(s.doc) WHERE left(lexeme, 1) <> '@'
      UNION SELECT lexeme FROM unnest(s.name_doc) WHERE left(lexeme, 1) = '^'
    ) t
    WHERE s.business_id = ${businessId}
    ORDER BY t.lexeme
    ON CONFLICT (word) DO UPDATE SET n = search_word.n + 1`.execute(db);
}

export async function followerCounts(db: Db, businessIds: string[]): Promise<Map<string, number>> {
  if (businessIds.length === 0) return new Map();
  const rows = await db.selectFrom("business_search").select(["business_id", "follower_count"]).where("business_id", "in", businessIds).execute();
  return new Map(rows.map((r) => [r.business_id, r.follower_count]));
}

/**
 * Verified businesses (other than `exceptId`) whose name is close to `name`:
 * trigram similarity, or the verified name contained in it word for word.
 * Runs inside the caller's transaction (the trigram threshold is set locally
 * so the partial GIN index returns loose candidates for the exact checks).
 */
export async function similarVerifiedNames(
  db: Db,
  name: string,
  exceptId: string,
  threshold: { similarity: number; containment: number; minContainedLength: number },
): Promise<{ businessId: string; displayName: string; similarity: number }[]> {
  await sql`SELECT set_config('pg_trgm.similarity_threshold', '0.2', true)`.execute(db);
  const { rows } = await sql<{ business_id: string; display_name: string; sim: number }>`
    WITH q AS (SELECT dir_norm(${name}) AS n)
    SELECT s.business_id, s.display_name, similarity(dir_norm(s.display_name), q.n) AS sim
    FROM business_search s, q
    WHERE s.verified AND s.business_id <> ${exceptId}
      AND dir_norm(s.display_name) % q.n
      AND (similarity(dir_norm(s.display_name), q.n) >= ${threshold.similarity}
           OR (length(dir_norm(s.display_name)) >= ${threshold.minContainedLength}
               AND word_similarity(dir_norm(s.display_name), q.n) >= ${threshold.containment}))
    ORDER BY sim DESC
    LIMIT 3`.execute(db);
  return rows.map((r) => ({ businessId: r.business_id, displayName: r.display_name, similarity: Number(r.sim) }));
}

/** Does PostgreSQL's time zone database know this zone? (It evaluates open_now per row.) */
export async function databaseKnowsZone(db: Db, tz: string): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = ${tz}) AS ok`.execute(db);
  return rows[0]?.ok ?? false;
}
