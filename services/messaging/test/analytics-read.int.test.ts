import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql, type Kysely } from "kysely";
import { GetAnalyticsResponse } from "@kontor/proto/messaging/v1/tools_service";
import { createDb, migrateToLatest } from "@kontor/service-kit/db";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { countsOf, pointOf, type PeriodColumns, type PeriodCounts } from "../src/domain/tools/analytics.js";
import { analyticsPeriodsBytes, analyticsResponseBytes } from "../src/events/wire.js";
import { createAnalyticsReader } from "../src/store/analytics-read.js";
import type { MessagingDatabase } from "../src/store/database.js";
import { migrations } from "../src/store/migrations/index.js";

/*
 * GetAnalytics's read (analytics-read.ts: names and counts as two columns,
 * the names only when they change) against the per-metric JSON object read
 * it replaced (referencePeriods below), on the same rows in
 * PostgreSQL: days whose metrics differ, numbers, months, names JSON must
 * escape, counts past 2^32.
 */
let env: TestEnv;
let db: Kysely<MessagingDatabase>;

beforeAll(async () => {
  env = await createTestEnv();
  db = createDb<MessagingDatabase>({ url: env.databaseUrl, schema: "messaging", max: 2 }).db;
  await migrateToLatest(db, "messaging", migrations);
});

afterAll(async () => {
  await db?.destroy();
  await env?.cleanup();
});

/** A deterministic pseudo-random source (xorshift), so a failure names a seed that reproduces it. */
function random(seed: number) {
  let x = Math.imul(seed, 0x9e3779b1) || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const METRICS = [
  "sent",
  "delivered",
  "read",
  "failed",
  "inbound",
  "failed:131047",
  "failed:131026",
  "conv:service",
  "conv:marketing",
  ...Array.from({ length: 14 }, (_, b) => `frt:${b}`),
  ...["tpl", "tpl_delivered", "tpl_read", "tpl_clicked"].flatMap((k) => ["welcome", "order_update", "constructor", "ünïcode_名前", 'quote"d', "back\\slash", "comma,name", "tab\tname"].map((t) => `${k}:${t}`)),
  "unknown:x",
];

/** Rows of three businesses' numbers (and the business-wide '') over 75 days across three months; a day keeps a random subset of the metrics, or the same subset as the day before. */
async function seed(n: number): Promise<void> {
  const next = random(n);
  const rows: { business_id: string; phone_number_id: string; day: string; metric: string; value: string }[] = [];
  for (const business of ["b1", "b2", "b3"]) {
    for (const number of ["", "pn1", "pn2"]) {
      let kept = METRICS;
      for (let d = 0; d < 75; d++) {
        if (next() < 0.15) continue; // a day without counts
        if (next() < 0.4) kept = METRICS.filter(() => next() < 0.6);
        const day = new Date(Date.UTC(2026, 0, 20 + d)).toISOString().slice(0, 10);
        for (const metric of kept) {
          const r = next();
          const value = r < 0.05 ? 2 ** 40 + Math.floor(next() * 1000) : r < 0.1 ? 0 : 1 + Math.floor(next() * 100_000);
          rows.push({ business_id: business, phone_number_id: number, day, metric, value: String(value) });
        }
      }
    }
  }
  await sql`DELETE FROM analytics_day`.execute(db);
  for (let i = 0; i < rows.length; i += 5_000) await db.insertInto("analytics_day").values(rows.slice(i, i + 5_000)).execute();
}

const ASKS: [string, string, string, string, "day" | "month"][] = [
  ["b1", "", "2026-01-01", "2026-12-31", "day"],
  ["b1", "", "2026-01-01", "2026-12-31", "month"],
  ["b2", "pn1", "2026-02-03", "2026-03-10", "day"],
  ["b2", "pn2", "2026-01-31", "2026-03-01", "month"],
  ["b3", "", "2026-02-14", "2026-02-14", "day"],
  ["b3", "pn1", "2026-02-14", "2026-02-14", "month"],
  ["b1", "", "2025-01-01", "2025-12-31", "day"],
  ["nobody", "", "2026-01-01", "2026-12-31", "month"],
];

describe("GetAnalytics's read", () => {
  it("when days keep differing sets of metrics (named with quotes, backslashes, commas, tabs, any script), then the columns read equal the per-metric objects read, by day and by month, for every number and range; periods of the same names share one array", async () => {
    const reader = createAnalyticsReader(db);
    for (const n of [1, 2, 3]) {
      await seed(n);
      for (const [businessId, number, start, end, granularity] of ASKS) {
        const label = `seed ${n}: ${businessId}/${number || "all"} ${start}..${end} by ${granularity}`;
        const columns = await reader.periodColumns(businessId, number, start, end, granularity);
        const objects = await referencePeriods(businessId, number, start, end, granularity);
        expect(columns.map(countsOf), label).toEqual(objects.map((p: PeriodCounts) => ({ start: p.start, counts: { ...p.counts } })).map(nullProto));
        // And the answers: written from the columns, or from the points of the objects.
        expect(GetAnalyticsResponse.decode(analyticsPeriodsBytes(columns)), label).toEqual(GetAnalyticsResponse.decode(analyticsResponseBytes(objects.map(pointOf))));
        if (granularity === "day" && columns.length > 10) expect(shared(columns), label).toBeGreaterThan(0);
      }
    }
  });
});

/** The previous read: one JSON object of metric → count per period, summed in SQL. */
async function referencePeriods(businessId: string, phoneNumberId: string, start: string, end: string, granularity: "day" | "month"): Promise<PeriodCounts[]> {
  const { rows } =
    granularity === "day"
      ? await sql<PeriodCounts>`
          SELECT to_char(day, 'YYYY-MM-DD') AS start, json_object_agg(metric, value) AS counts FROM analytics_day
          WHERE business_id = ${businessId} AND phone_number_id = ${phoneNumberId} AND day >= ${start}::date AND day <= ${end}::date
          GROUP BY day ORDER BY day`.execute(db)
      : await sql<PeriodCounts>`
          SELECT to_char(p, 'YYYY-MM-DD') AS start, json_object_agg(metric, v) AS counts FROM (
            SELECT date_trunc('month', day)::date AS p, metric, sum(value) AS v FROM analytics_day
            WHERE business_id = ${businessId} AND phone_number_id = ${phoneNumberId} AND day >= ${start}::date AND day <= ${end}::date
            GROUP BY 1, 2) t
          GROUP BY p ORDER BY p`.execute(db);
  return rows;
}

/** How many periods share the previous period's names array (sent once by PostgreSQL). */
function shared(columns: readonly PeriodColumns[]): number {
  return columns.filter((c, i) => i > 0 && c.metrics === columns[i - 1]!.metrics).length;
}

function nullProto(p: PeriodCounts): PeriodCounts {
  return { start: p.start, counts: Object.assign(Object.create(null), p.counts) };
}
