import type pg from "pg";
import { multirangeLiteral, searchHours, type OpeningHours } from "../src/domain/hours.js";
import { formatDate } from "../src/domain/time-zone.js";
import { geoLexemes } from "../src/domain/geo.js";
import { HOURS_TEMPLATES } from "./vocab.js";
import { generateBusiness, hoursFromTemplate, type GeneratedBusiness } from "./generate.js";

const BATCH = 5_000;

/**
 * Loads `count` generated businesses straight into the service's tables
 * (business + the business_search projection, built with the same SQL
 * functions the service uses), with secondary indexes dropped during the
 * load and rebuilt after, then fills the typo dictionary and analyzes.
 */
export async function seed(pool: pg.Pool, schema: string, count: number, seedValue: number, epochDay: number, progress: (msg: string) => void): Promise<void> {
  const admin = await pool.connect();
  let indexes: { indexname: string; indexdef: string }[] = [];
  try {
    await admin.query(`SET search_path = ${schema}, public`);
    await admin.query("TRUNCATE business, business_search, search_word CASCADE");
    // Secondary indexes: drop for the load, rebuild from their own definitions afterwards.
    ({ rows: indexes } = await admin.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
       WHERE i.schemaname = $1 AND i.tablename IN ('business', 'business_search', 'search_word')
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
      [schema],
    ));
    for (const ix of indexes) await admin.query(`DROP INDEX ${schema}.${ix.indexname}`);
  } finally {
    admin.release();
  }

  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    const client = await pool.connect();
    try {
      await client.query(`SET search_path = ${schema}, public`);
      await client.query("SET synchronous_commit = off");
      await client.query("CREATE TEMP TABLE seed_hours (tpl int PRIMARY KEY, hours jsonb NOT NULL, open_week int4multirange NOT NULL)");
      const tpls = HOURS_TEMPLATES.map((_, i) => hoursFromTemplate(i, "UTC"));
      await client.query("INSERT INTO seed_hours SELECT * FROM unnest($1::int[], $2::jsonb[], $3::int4multirange[])", [
        tpls.map((_, i) => i),
        tpls.map((t) => JSON.stringify(t)),
        tpls.map((t) => multirangeLiteral(searchHours(t).week)),
      ]);
      for (;;) {
        const from = next;
        if (from >= count) break;
        next += BATCH;
        const to = Math.min(count, from + BATCH);
        const rows: GeneratedBusiness[] = [];
        for (let i = from; i < to; i++) rows.push(generateBusiness(seedValue, i, epochDay));
        await insertBatch(client, rows, epochDay);
        done += rows.length;
        if (done % 100_000 < BATCH) progress(`seeded ${done}/${count} (${Math.round(done / ((Date.now() - started) / 1000))}/s)`);
      }
    } finally {
      client.release();
    }
  };
  await Promise.all([worker(), worker()]);

  progress(`rebuilding ${indexes.length} indexes`);
  const queue = [...indexes];
  const builder = async () => {
    const client = await pool.connect();
    try {
      await client.query(`SET search_path = ${schema}, public`);
      await client.query("SET maintenance_work_mem = '512MB'");
      for (let ix = queue.shift(); ix; ix = queue.shift()) await client.query(ix.indexdef);
    } finally {
      client.release();
    }
  };
  await Promise.all([builder(), builder()]);
  const client = await pool.connect();
  try {
    await client.query(`SET search_path = ${schema}, public`);
    progress("building the typo dictionary");
    await client.query(
      `INSERT INTO search_word (word, n) SELECT word, ndoc FROM ts_stat('SELECT doc FROM ${schema}.business_search') WHERE left(word, 1) <> '@'`,
    );
    await client.query(
      `INSERT INTO search_word (word, n) SELECT word, ndoc FROM ts_stat('SELECT name_doc FROM ${schema}.business_search') WHERE left(word, 1) = '^'`,
    );
    progress("vacuum analyze");
    await client.query("VACUUM ANALYZE business");
    await client.query("VACUUM ANALYZE business_search");
    await client.query("VACUUM ANALYZE search_word");
  } finally {
    client.release();
  }
}

async function insertBatch(client: pg.PoolClient, rows: GeneratedBusiness[], epochDay: number): Promise<void> {
  const exc = rows.map((b) => {
    if (!b.exception) return { hours: null, region: null, open: null };
    const hours: OpeningHours = hoursFromTemplate(b.hoursTemplate, b.city.tz);
    hours.exceptions = [
      {
        date: formatDate(epochDay + b.exception.dayOffset),
        closed: b.exception.closed,
        ranges: b.exception.closed ? [] : [{ openMinute: 600, closeMinute: 840 }],
        note: b.exception.closed ? "Holiday" : "Short hours",
      },
    ];
    const sh = searchHours(hours);
    return { hours: JSON.stringify(hours), region: multirangeLiteral(sh.exceptionRegion), open: multirangeLiteral(sh.exceptionOpen) };
  });
  await client.query(
    `WITH src AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::float8[], $11::float8[], $12::text[], $13::int[], $14::text[], $15::int8multirange[],
                            $16::int8multirange[], $17::int[], $18::int8[], $19::bool[], $20::timestamptz[], $21::text[], $22::text[])
         AS t(id, display_name, category, about, description, city, street, postal_code, country, lat, lng, tz, tpl,
              hours_override, exc_region, exc_open, followers, msgs, verified, created_at, langs, cells)
     ), biz AS (
       INSERT INTO business (id, display_name, legal_name, category, description, about, address, lat, lng, country, languages,
                             hours, websites, email, profile_picture_url, verified, verified_name, verified_at, registered_by,
                             created_at, updated_at)
       SELECT s.id, s.display_name, s.display_name || ' Ltd', s.category, s.description, s.about,
              jsonb_build_object('street', s.street, 'city', s.city, 'postalCode', s.postal_code, 'region', '', 'country', s.country),
              s.lat, s.lng, s.country, string_to_array(s.langs, ','),
              coalesce(s.hours_override::jsonb, jsonb_set(h.hours, '{timeZone}', to_jsonb(s.tz))),
              '{}', '', '', s.verified, CASE WHEN s.verified THEN s.display_name ELSE '' END,
              CASE WHEN s.verified THEN s.created_at END, 'service:bench', s.created_at, s.created_at
       FROM src s JOIN seed_hours h ON h.tpl = s.tpl
       RETURNING 1
     )
     INSERT INTO business_search (business_id, display_name, doc, name_doc, category, country, languages, city, lat, lng, geo,
                                  verified, follower_count, message_volume, time_zone, open_week, exc_region, exc_open, created_at)
     SELECT s.id, s.display_name,
            dir_doc(s.display_name, s.category, s.city, s.about || ' ' || s.description, string_to_array(s.langs, ','), string_to_array(s.cells, ',')),
            dir_name_doc(s.display_name, string_to_array(s.cells, ',')),
            s.category, s.country, string_to_array(s.langs, ','), s.city, s.lat, s.lng, ll_to_earth(s.lat, s.lng),
            s.verified, s.followers, s.msgs, s.tz, h.open_week, s.exc_region, s.exc_open, s.created_at
     FROM src s JOIN seed_hours h ON h.tpl = s.tpl`,
    [
      rows.map((b) => b.id),
      rows.map((b) => b.displayName),
      rows.map((b) => b.category),
      rows.map((b) => b.about),
      rows.map((b) => b.description),
      rows.map((b) => b.city.name),
      rows.map((b) => b.street),
      rows.map((b) => b.postalCode),
      rows.map((b) => b.city.country),
      rows.map((b) => b.lat),
      rows.map((b) => b.lng),
      rows.map((b) => b.city.tz),
      rows.map((b) => b.hoursTemplate),
      exc.map((e) => e.hours),
      exc.map((e) => e.region),
      exc.map((e) => e.open),
      rows.map((b) => b.followers),
      rows.map((b) => b.messageVolume),
      rows.map((b) => b.verified),
      rows.map((b) => b.createdAt.toISOString()),
      rows.map((b) => b.languages.join(",")),
      rows.map((b) => geoLexemes({ lat: b.lat, lng: b.lng }).join(",")),
    ],
  );
}
