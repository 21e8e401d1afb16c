import { sql, type Kysely } from "kysely";
import type { PeriodColumns } from "../domain/tools/analytics.js";
import type { MessagingDatabase } from "./database.js";

/** A period as PostgreSQL answers it: its names as a JSON array (null: the previous period's), its counts as one. */
interface PeriodRow {
  start: string;
  names: string | null;
  counts: string;
}

/**
 * GetAnalytics's read: the counts per period (UTC day or month) and metric
 * over a range of days, for one number or (`''`) all the business's
 * numbers, summed in SQL from the consumer's day rows. Each period comes
 * back as two JSON arrays in one order, its metric names and its counts;
 * the names only when they differ from the previous period's (a business's
 * days mostly count the same metrics), so a 90-day answer of ~10,000 counts
 * carries ~110 names once instead of with every count. The arrays are built
 * by plain aggregates in the order the index hands the rows over, and both
 * see the rows in that one order; parsing them is a JSON.parse each.
 */
export function createAnalyticsReader(db: Kysely<MessagingDatabase>) {
  return {
    async periodColumns(businessId: string, phoneNumberId: string, start: string, end: string, granularity: "day" | "month"): Promise<PeriodColumns[]> {
      const { rows } =
        granularity === "day"
          ? await sql<PeriodRow>`
              SELECT to_char(day, 'YYYY-MM-DD') AS start, CASE WHEN names IS DISTINCT FROM lag(names) OVER (ORDER BY day) THEN names END AS names, counts
              FROM (
                SELECT day, json_agg(metric)::text AS names, '[' || string_agg(value::text, ',') || ']' AS counts FROM analytics_day
                WHERE business_id = ${businessId} AND phone_number_id = ${phoneNumberId} AND day >= ${start}::date AND day <= ${end}::date
                GROUP BY day) d
              ORDER BY day`.execute(db)
          : await sql<PeriodRow>`
              SELECT to_char(p, 'YYYY-MM-DD') AS start, CASE WHEN names IS DISTINCT FROM lag(names) OVER (ORDER BY p) THEN names END AS names, counts
              FROM (
                SELECT p, json_agg(metric)::text AS names, '[' || string_agg(v::text, ',') || ']' AS counts FROM (
                  SELECT date_trunc('month', day)::date AS p, metric, sum(value) AS v FROM analytics_day
                  WHERE business_id = ${businessId} AND phone_number_id = ${phoneNumberId} AND day >= ${start}::date AND day <= ${end}::date
                  GROUP BY 1, 2) t
                GROUP BY p) m
              ORDER BY p`.execute(db);
      return columnsOf(rows);
    },
  };
}

/** The rows as periods: a period without names shares the previous one's array. */
export function columnsOf(rows: readonly PeriodRow[]): PeriodColumns[] {
  let metrics: string[] = [];
  return rows.map((r) => {
    if (r.names !== null) metrics = JSON.parse(r.names) as string[];
    const values = JSON.parse(r.counts) as number[];
    if (values.length !== metrics.length) throw new Error(`analytics: period ${r.start} has ${metrics.length} metrics but ${values.length} counts`);
    return { start: r.start, metrics, values };
  });
}

export type AnalyticsReader = ReturnType<typeof createAnalyticsReader>;
