/**
 * npm run bench:analytics — GetAnalytics over 90 days of a business whose
 * day counts stand for 10 million messages (4 numbers, 20 templates, every
 * metric the consumer keeps), among 300 other businesses' counts, against
 * the real PostgreSQL; beside it the p99 of a no-op grpc-js unary call in
 * the same run. The counts are seeded with bulk SQL in the shape the
 * analytics consumer writes (analytics reads only these rows). Prints one
 * JSON line (bench-results/analytics.json).
 */
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { credentials, Metadata } from "@grpc/grpc-js";
import { benchKnob, reportBench } from "@kontor/service-kit/bench";
import { createDb } from "@kontor/service-kit/db";
import { MessagingServiceClient } from "@kontor/proto/messaging/v1/messaging_service";
import { AnalyticsGranularity, BusinessToolsServiceClient, type GetAnalyticsRequest, type GetAnalyticsResponse } from "@kontor/proto/messaging/v1/tools_service";
import { createTestEnv } from "@kontor/testkit/env";
import { cpuPerOp, cpuSnapshot, databaseOf, log as logTo, nowMs, percentile, round, startServer, stopServer, type ServerProc } from "./tools-bench-kit.js";

const MESSAGES = benchKnob("BENCH_MESSAGES", 10_000_000);
const DAYS = 90;
const NUMBERS = 4;
const TEMPLATES = 20;
const OTHER_BUSINESSES = benchKnob("BENCH_OTHER_BUSINESSES", 300);
const CALLS = benchKnob("BENCH_CALLS", 200);
const BUSINESS = "bench_an_biz";

const log = (msg: string) => logTo("bench:analytics", msg);
const budget = setTimeout(() => {
  log("giving up after 4.5 minutes");
  process.exit(2);
}, 270_000);

/** Sequential calls; answers the latencies in ms, sorted. */
async function timeCalls(n: number, once: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = nowMs();
    await once();
    out.push(nowMs() - t);
  }
  return out.sort((a, b) => a - b);
}

async function main() {
  const loadBefore = loadavg()[0]!;
  const cores = cpus().length;
  const env = await createTestEnv();
  const database = databaseOf(env.databaseUrl);
  const serverEnv = env.env({ MESSAGE_MASTER_KEY: randomBytes(32).toString("base64"), LOG_LEVEL: "warn", DB_POOL_MAX: "8" });
  const { pool } = createDb({ url: env.databaseUrl, schema: "messaging", max: 2 });
  const servers: ServerProc[] = [];
  try {
    const server = await startServer("messaging", serverEnv);
    servers.push(server);

    // The business: per number and day, every metric the consumer keeps, its sends summing to MESSAGES.
    const perDay = Math.round(MESSAGES / (DAYS * NUMBERS));
    const t0 = nowMs();
    await pool.query(
      `INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value)
       SELECT $1, 'bench_an_pn' || n, (date '2026-01-01' + d), m.metric, greatest(1, round($2::bigint * m.share * (0.8 + 0.4 * random())))::bigint
       FROM generate_series(0, ${NUMBERS - 1}) AS n, generate_series(0, ${DAYS - 1}) AS d,
       (SELECT * FROM (VALUES ('sent', 1.0), ('delivered', 0.95), ('read', 0.7), ('failed', 0.02), ('inbound', 0.5)) AS base(metric, share)
        UNION ALL SELECT 'failed:' || c, 0.004 FROM unnest(ARRAY[131026, 131047, 131048, 131050, 131056]) AS c
        UNION ALL SELECT 'conv:' || c, 0.05 FROM unnest(ARRAY['service', 'marketing', 'utility', 'authentication', 'referral_conversion']) AS c
        UNION ALL SELECT 'frt:' || b, 0.01 FROM generate_series(0, 13) AS b
        UNION ALL SELECT k || 'bench_template_' || t, 0.02 FROM unnest(ARRAY['tpl:', 'tpl_delivered:', 'tpl_read:', 'tpl_clicked:']) AS k, generate_series(1, ${TEMPLATES}) AS t) AS m`,
      [BUSINESS, perDay],
    );
    // The business-wide rows ('') the consumer keeps beside each number's.
    await pool.query(
      `INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value)
       SELECT business_id, '', day, metric, sum(value) FROM analytics_day WHERE business_id = $1 GROUP BY business_id, day, metric`,
      [BUSINESS],
    );
    // Everyone else: one number each (and its business-wide copy), the common metrics, the same 90 days.
    await pool.query(
      `INSERT INTO analytics_day (business_id, phone_number_id, day, metric, value)
       SELECT 'bench_other_' || b, pn, (date '2026-01-01' + d), m, (1 + random() * 1000)::bigint
       FROM generate_series(1, $1::int) AS b, generate_series(0, ${DAYS - 1}) AS d, unnest(ARRAY['bench_other_pn', '']) AS pn,
       unnest(ARRAY['sent', 'delivered', 'read', 'failed', 'inbound', 'conv:service', 'conv:marketing', 'frt:0', 'frt:3', 'frt:6', 'tpl:welcome', 'failed:131047']) AS m`,
      [OTHER_BUSINESSES],
    );
    await pool.query("VACUUM ANALYZE analytics_day");
    const seeded = (
      await pool.query(
        "SELECT count(*) AS rows, sum(value) FILTER (WHERE business_id = $1 AND phone_number_id = '' AND metric = 'sent') AS sent, count(*) FILTER (WHERE business_id = $1 AND phone_number_id = '') AS own FROM analytics_day",
        [BUSINESS],
      )
    ).rows[0];
    log(`seeded ${seeded.rows} rows (${seeded.own} read per business-wide call, ${seeded.sent} messages sent) in ${Math.round(nowMs() - t0)} ms`);

    // The plan of the service's daily read (src/store/analytics-read.ts).
    const plan = (
      await pool.query(
        `EXPLAIN (ANALYZE, BUFFERS) SELECT to_char(day, 'YYYY-MM-DD'), CASE WHEN names IS DISTINCT FROM lag(names) OVER (ORDER BY day) THEN names END, counts FROM (
           SELECT day, json_agg(metric)::text AS names, '[' || string_agg(value::text, ',') || ']' AS counts FROM analytics_day
           WHERE business_id = $1 AND phone_number_id = '' AND day >= '2026-01-01' AND day <= '2026-03-31' GROUP BY day) d ORDER BY day`,
        [BUSINESS],
      )
    ).rows;
    log(`plan: ${plan.map((r) => r["QUERY PLAN"]).filter((l: string) => /Scan|Aggregate|WindowAgg|Execution/.test(l)).join(" | ")}`);
    const md = new Metadata();
    md.set("authorization", `Bearer ${await env.token({ kind: "business", businessId: BUSINESS })}`);
    const tools = new BusinessToolsServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    const ask = (granularity: AnalyticsGranularity) =>
      new Promise<GetAnalyticsResponse>((resolve, reject) => {
        const req: GetAnalyticsRequest = { businessId: BUSINESS, phoneNumberId: "", startDate: "2026-01-01", endDate: "2026-03-31", granularity };
        tools.getAnalytics(req, md, (err, res) => (err ? reject(err) : resolve(res!)));
      });
    const check = await ask(AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY);
    const sentSeen = check.points.reduce((a, p) => a + Number(p.sent), 0);
    if (check.points.length !== DAYS || sentSeen !== Number(seeded.sent)) throw new Error(`GetAnalytics answered ${check.points.length} days and ${sentSeen} sent, not ${DAYS} and ${seeded.sent}`);
    await timeCalls(20, () => ask(AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY)); // warm-up

    let from = cpuSnapshot(server.child.pid!, database);
    const daily = await timeCalls(CALLS, () => ask(AnalyticsGranularity.ANALYTICS_GRANULARITY_DAY));
    const dailyCpu = cpuPerOp(from, cpuSnapshot(server.child.pid!, database), CALLS, cores);
    const monthly = await timeCalls(CALLS, () => ask(AnalyticsGranularity.ANALYTICS_GRANULARITY_MONTH));
    tools.close();
    log(`daily p50 ${round(percentile(daily, 50))} ms p99 ${round(percentile(daily, 99))} ms; monthly p99 ${round(percentile(monthly, 99))} ms`);
    await stopServer(server);

    // The same client and call pattern against grpc-js doing nothing: the floor under any answer.
    const noop = await startServer("noop", serverEnv);
    servers.push(noop);
    const client = new MessagingServiceClient(`127.0.0.1:${noop.port}`, credentials.createInsecure());
    const req = { sender: undefined, recipient: undefined, to: "", clientMessageId: "noop", content: undefined, context: undefined, bizOpaqueCallbackData: "", referral: undefined };
    const unary = () => new Promise((resolve, reject) => client.sendMessage(req, md, (err, res) => (err ? reject(err) : resolve(res))));
    await timeCalls(100, unary);
    from = cpuSnapshot(noop.child.pid!, database);
    const floor = await timeCalls(CALLS * 2, unary);
    const noopCpu = cpuPerOp(from, cpuSnapshot(noop.child.pid!, database), CALLS * 2, cores);
    client.close();

    reportBench("analytics", {
      bench: "analytics",
      metrics: {
        analytics_p99_ms: round(percentile(daily, 99)),
        analytics_p50_ms: round(percentile(daily, 50)),
        analytics_month_p99_ms: round(percentile(monthly, 99)),
        rows_read_per_call: Number(seeded.own),
        messages_represented: Number(seeded.sent),
      },
      limits: { grpc_noop_p99_ms: round(percentile(floor, 99)), grpc_noop_p50_ms: round(percentile(floor, 50)) },
      cpu_per_op: { get_analytics_day: dailyCpu, grpc_noop: noopCpu },
      env: { cpus: cores, node: process.version, days: DAYS, numbers: NUMBERS, templates: TEMPLATES, table_rows: Number(seeded.rows), load_before: round(loadBefore, 2), load_after: round(loadavg()[0]!, 2) },
    });
  } finally {
    for (const s of servers) await stopServer(s).catch(() => undefined);
    await pool.end().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
    clearTimeout(budget);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
