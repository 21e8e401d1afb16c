import { sql, type Kysely } from "kysely";

/**
 * Extensions live in `public` (search_path is `<schema>,public`), so every
 * service in a database shares one copy. unaccent() is only STABLE, so the
 * normaliser wraps the two-argument form with fully qualified names, which
 * is safe to mark IMMUTABLE and to use in index expressions.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  for (const ext of ["pg_trgm", "unaccent", "cube", "earthdistance", "btree_gin", "btree_gist"]) await ensureExtension(db, ext);

  await sql`
    CREATE OR REPLACE FUNCTION dir_norm(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$`.execute(db);

  // Accent-insensitive text search configurations: names use "simple" (no
  // stemming), descriptions the business's language.
  const configs: [string, string][] = [
    ["kontor_simple", "simple"],
    ["kontor_english", "english_stem"],
    ["kontor_german", "german_stem"],
    ["kontor_portuguese", "portuguese_stem"],
    ["kontor_spanish", "spanish_stem"],
    ["kontor_indonesian", "indonesian_stem"],
  ];
  for (const [name, dict] of configs) {
    const exists = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
      WHERE c.cfgname = ${name} AND n.nspname = current_schema()`.execute(db);
    if ((exists.rows[0]?.n ?? 0) > 0) continue;
    await sql.raw(`CREATE TEXT SEARCH CONFIGURATION ${name} (COPY = pg_catalog.simple)`).execute(db);
    await sql
      .raw(`ALTER TEXT SEARCH CONFIGURATION ${name} ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH public.unaccent, pg_catalog.${dict}`)
      .execute(db);
  }

  await sql`
    CREATE OR REPLACE FUNCTION dir_lang_config(langs text[]) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE split_part(coalesce(langs[1], ''), '-', 1)
      WHEN 'en' THEN 'kontor_english'::regconfig
      WHEN 'de' THEN 'kontor_german'::regconfig
      WHEN 'pt' THEN 'kontor_portuguese'::regconfig
      WHEN 'es' THEN 'kontor_spanish'::regconfig
      WHEN 'id' THEN 'kontor_indonesian'::regconfig
      ELSE 'kontor_simple'::regconfig END $$`.execute(db);

  // Weights: A name (as written and stemmed in the business's language), B
  // the category as one synthetic lexeme "~<code>" (query words map to it
  // through category_word, which keeps every document small), C city,
  // D about line and description (stemmed). Geohash cells ("@u33db") make
  // "text near a point" one GIN lookup.
  await sql`
    CREATE OR REPLACE FUNCTION dir_doc(name text, category text, city text, body text, langs text[], cells text[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT
      setweight(to_tsvector('kontor_simple', coalesce(name, '')), 'A') ||
      setweight(to_tsvector(dir_lang_config(langs), coalesce(name, '')), 'A') ||
      setweight(format('%L:1', '~' || category)::tsvector, 'B') ||
      setweight(to_tsvector('kontor_simple', coalesce(city, '')), 'C') ||
      setweight(to_tsvector(dir_lang_config(langs), coalesce(body, '')), 'D') ||
      array_to_tsvector(coalesce(cells, '{}')) $$`.execute(db);

  // Great-circle distance on the mean Earth radius (the domain's distanceKm uses the same).
  await sql`
    CREATE OR REPLACE FUNCTION dir_distance_km(lat1 float8, lng1 float8, lat2 float8, lng2 float8) RETURNS float8
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT 2 * 6371.0088 * asin(least(1, sqrt(
      power(sin(radians(lat2 - lat1) / 2), 2) + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2)))) $$`.execute(db);

  // Open at an instant, in the business's own zone: local wall-clock minutes
  // come from the time zone database per row (DST needs no refresh). Inside a
  // dated exception's region the precomputed exact set decides; elsewhere the
  // weekly minutes-of-week (Monday 00:00 = 0).
  await sql`
    CREATE OR REPLACE FUNCTION dir_open_at(open_week int4multirange, exc_region int8multirange, exc_open int8multirange, tz text, at timestamptz)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE
      WHEN tz IS NULL THEN false
      WHEN exc_region @> floor(extract(epoch FROM (at AT TIME ZONE tz)) / 60)::int8
        THEN coalesce(exc_open @> floor(extract(epoch FROM (at AT TIME ZONE tz)) / 60)::int8, false)
      ELSE coalesce(open_week @> (
        ((floor(extract(epoch FROM (at AT TIME ZONE tz)) / 60)::int8 / 1440 + 3) % 7) * 1440
        + floor(extract(epoch FROM (at AT TIME ZONE tz)) / 60)::int8 % 1440)::int4, false)
    END $$`.execute(db);

  await db.schema
    .createTable("business")
    .ifNotExists()
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("legal_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("category", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("about", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("address", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("lat", "float8")
    .addColumn("lng", "float8")
    .addColumn("country", "text", (c) => c.notNull())
    .addColumn("languages", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn("hours", "jsonb")
    .addColumn("websites", sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn("email", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("profile_picture_url", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("handle", "text")
    .addColumn("verified", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("verified_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("verified_at", "timestamptz")
    .addColumn("verification_state", "text", (c) => c.notNull().defaultTo("unverified"))
    .addColumn("partner_id", "text")
    .addColumn("registered_by", "text", (c) => c.notNull())
    .addColumn("version", "bigint", (c) => c.notNull().defaultTo(1))
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("business_handle_key", ["handle"])
    .execute();

  await db.schema
    .createTable("business_phone_number")
    .ifNotExists()
    .addColumn("phone_number_id", "text", (c) => c.primaryKey())
    .addColumn("business_id", "text", (c) => c.notNull().references("business.id").onDelete("cascade"))
    .addColumn("e164", "text", (c) => c.notNull())
    .addColumn("display_name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("position", "integer", (c) => c.notNull().defaultTo(0))
    .addUniqueConstraint("business_phone_number_e164_key", ["e164"])
    .execute();
  await db.schema.createIndex("business_phone_number_business_idx").ifNotExists().on("business_phone_number").columns(["business_id", "position"]).execute();

  // The search projection: narrow, rebuilt from `business` in the same
  // transaction as every change. Popularity counters live here.
  await sql`
    CREATE TABLE IF NOT EXISTS business_search (
      business_id text PRIMARY KEY REFERENCES business(id) ON DELETE CASCADE,
      display_name text NOT NULL,
      doc tsvector NOT NULL,
      category text NOT NULL,
      country text NOT NULL,
      languages text[] NOT NULL DEFAULT '{}',
      city text NOT NULL DEFAULT '',
      lat float8,
      lng float8,
      geo public.cube,
      verified boolean NOT NULL DEFAULT false,
      follower_count integer NOT NULL DEFAULT 0,
      message_volume bigint NOT NULL DEFAULT 0,
      popular boolean GENERATED ALWAYS AS (verified OR follower_count >= 50 OR message_volume >= 2000) STORED,
      time_zone text,
      open_week int4multirange,
      exc_region int8multirange,
      exc_open int8multirange,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_doc_idx ON business_search USING gin (doc) WITH (fastupdate = off)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_doc_popular_idx ON business_search USING gin (doc) WITH (fastupdate = off) WHERE popular`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_geo_idx ON business_search USING gist (geo)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_popular_geo_idx ON business_search USING gist (geo) WHERE popular`.execute(db);
  // Category near a point, nearest first (KNN): btree_gist puts the equality and the cube in one index.
  await sql`CREATE INDEX IF NOT EXISTS business_search_category_geo_idx ON business_search USING gist (category, geo)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS business_search_verified_name_idx ON business_search USING gin (dir_norm(display_name) public.gin_trgm_ops) WHERE verified`.execute(db);

  // Every distinct name/category/city word, for typo correction with trigrams.
  await sql`
    CREATE TABLE IF NOT EXISTS search_word (
      word text PRIMARY KEY,
      n integer NOT NULL DEFAULT 1
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS search_word_trgm_idx ON search_word USING gin (word public.gin_trgm_ops)`.execute(db);

  // Query words (as lexemes) that mean a category, filled from the taxonomy at start.
  await sql`
    CREATE TABLE IF NOT EXISTS category_word (
      word text NOT NULL,
      category text NOT NULL,
      PRIMARY KEY (word, category)
    )`.execute(db);
}

/**
 * CREATE EXTENSION in public; another service's migration may race us to it
 * (same database, own schemas), so a failure is tolerated when the extension
 * is there afterwards. One living elsewhere would hide its functions from us.
 */
async function ensureExtension(db: Kysely<any>, ext: string): Promise<void> {
  await sql`SAVEPOINT ensure_extension`.execute(db);
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS ${sql.id(ext)} WITH SCHEMA public`.execute(db);
  } catch (err) {
    await sql`ROLLBACK TO SAVEPOINT ensure_extension`.execute(db);
    const again = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_extension WHERE extname = ${ext}`.execute(db);
    if ((again.rows[0]?.n ?? 0) === 0) throw err;
  }
  await sql`RELEASE SAVEPOINT ensure_extension`.execute(db);
  const where = await sql<{ schema: string }>`
    SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ${ext}`.execute(db);
  if (where.rows[0]?.schema !== "public") {
    throw new Error(`extension ${ext} is installed in schema ${where.rows[0]?.schema}; directory needs it in public`);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("category_word").ifExists().execute();
  await db.schema.dropTable("search_word").ifExists().execute();
  await db.schema.dropTable("business_search").ifExists().execute();
  await db.schema.dropTable("business_phone_number").ifExists().execute();
  await db.schema.dropTable("business").ifExists().execute();
  await sql`DROP FUNCTION IF EXISTS dir_open_at(int4multirange, int8multirange, int8multirange, text, timestamptz)`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dir_distance_km(float8, float8, float8, float8)`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dir_doc(text, text, text, text, text[], text[])`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dir_lang_config(text[])`.execute(db);
  await sql`DROP FUNCTION IF EXISTS dir_norm(text)`.execute(db);
  for (const name of ["kontor_simple", "kontor_english", "kontor_german", "kontor_portuguese", "kontor_spanish", "kontor_indonesian"]) {
    await sql.raw(`DROP TEXT SEARCH CONFIGURATION IF EXISTS ${name}`).execute(db);
  }
}
