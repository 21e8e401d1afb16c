/**
 * npm run bench:ads
 *
 * Seeds (once; reused while the fingerprint matches) BENCH_ADS active
 * campaigns (default 100,000) of BENCH_ADVERTISERS businesses (10,000) with
 * bulk SQL into its own database (kontor_bench_ads), and ad personalization
 * consent for 30% of BENCH_CUSTOMERS synthetic customer profiles
 * (1,000,000, kept in this process's memory). The service runs in a child
 * process and loads the ads into its index. Then, over gRPC: SelectAds at
 * full speed (closed loop), SelectAds paced at BENCH_TARGET_RATE (2,000/s;
 * 70% of the closed loop's rate when that did not reach it)
 * for its latency, and a no-op gRPC call's rate and latency on the same
 * channel as the limit; CPU per call by party; while paced, what held the
 * service's and the load generator's event loops. Last, a simulated day: two
 * in-process replicas with a driven clock serve BENCH_DAY_CAMPAIGNS
 * campaigns (60) through 96 quarter-hours; overspend_ok says whether every
 * campaign stayed within one maximum bid of its daily budget.
 * Prints one JSON line and writes bench-results/ads.json.
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, Metadata } from "@grpc/grpc-js";
import { AdsServiceClient, Placement, type SelectAdsRequest } from "@kontor/proto/ads/v1/ads_service";
import { createTokenSigner, generateSigningKeys } from "@kontor/service-kit/auth";
import { benchKnob, createCpuMeter, percentile, reportBench, type CpuSnapshot, benchUrls, startBenchServer } from "@kontor/service-kit/bench";
import { createDb } from "@kontor/service-kit/db";
import { unaryCall } from "@kontor/service-kit/grpc-client";
import { loadConfig } from "../src/config.js";
import { createAds } from "../src/app.js";

const ADS = benchKnob("BENCH_ADS", 100_000);
const ADVERTISERS = benchKnob("BENCH_ADVERTISERS", 10_000);
const CUSTOMERS = benchKnob("BENCH_CUSTOMERS", 1_000_000);
const PHASE_MS = benchKnob("BENCH_PHASE_MS", 8_000);
const LIMIT_MS = benchKnob("BENCH_LIMIT_MS", 4_000);
const CONCURRENCY = benchKnob("BENCH_CONCURRENCY", 32);
const TARGET_RATE = benchKnob("BENCH_TARGET_RATE", 2_000);
const DAY_CAMPAIGNS = benchKnob("BENCH_DAY_CAMPAIGNS", 60);
const DAY_REQUESTS = benchKnob("BENCH_DAY_REQUESTS_PER_STEP", 150);
const GENERATOR_VERSION = 1;
const DB_NAME = "kontor_bench_ads";
const SCHEMA = "ads";
const TOKEN_SECRET = "bench-ads-token-secret-0123456789abcdef";

const { adminUrl, natsUrl, benchUrl } = benchUrls(DB_NAME);
const log = (msg: string) => process.stderr.write(`[bench:ads] ${msg}\n`);

export const COUNTRIES = ["PT", "BR", "ES", "FR", "DE", "IT", "GB", "US", "MX", "IN", "ID", "NG", "KE", "ZA", "EG", "TR", "PL", "NL", "SE", "AR"];
const LANGUAGE: Record<string, string> = { PT: "pt", BR: "pt", ES: "es", MX: "es", AR: "es", FR: "fr", DE: "de", IT: "it", NL: "nl", SE: "sv", PL: "pl", TR: "tr", ID: "id", EG: "ar" };
const INTERESTS = ["apparel", "beauty", "books", "electronics", "food_and_drink", "home_and_garden", "health_and_fitness", "travel", "automotive", "finance", "education", "entertainment", "sports", "pets", "kids_and_family", "real_estate"];
const PLACEMENTS = [Placement.PLACEMENT_DIRECTORY_SEARCH, Placement.PLACEMENT_APP_BANNER, Placement.PLACEMENT_APP_FEED];

/** A deterministic generator (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A synthetic profile, derived from the customer's number: 1,000,000 of them cost no memory until drawn. */
function profileOf(i: number): SelectAdsRequest["context"] & object {
  const r = rng(i * 7919 + 1);
  const country = COUNTRIES[Math.floor(r() * COUNTRIES.length)]!;
  return {
    country,
    region: "",
    language: LANGUAGE[country] ?? "en",
    age: 16 + Math.floor(r() * 60),
    interests: [INTERESTS[Math.floor(r() * INTERESTS.length)]!, INTERESTS[Math.floor(r() * INTERESTS.length)]!],
    query: "",
  };
}

/** Bulk SQL: campaigns whose targeting, bids, caps and budgets vary by their number. */
async function seed(pool: { query(q: string, v?: unknown[]): Promise<unknown> }): Promise<void> {
  const countries = `ARRAY[${COUNTRIES.map((c) => `'${c}'`).join(",")}]`;
  const langs = `ARRAY['pt','es','fr','de','en','it']`;
  const interests = `ARRAY[${INTERESTS.map((c) => `'${c}'`).join(",")}]`;
  await pool.query(`
    INSERT INTO ${SCHEMA}.campaign (id, business_id, name, objective, goal, status, daily_budget_minor, lifetime_budget_minor, currency, bid_kind, bid_minor,
      creatives, targeting, frequency_cap, review, flight_start_at, flight_end_at, created_at, updated_at)
    SELECT gen_random_uuid(), 'biz_' || (i % ${ADVERTISERS}), 'Bench ' || i,
      CASE WHEN i % 2 = 0 THEN 'display' ELSE 'click_to_chat' END, 'traffic', 'active',
      200000 + (h % 50) * 20000, NULL, 'EUR',
      CASE WHEN i % 3 = 0 THEN 'cpc' ELSE 'cpm' END,
      CASE WHEN i % 3 = 0 THEN 5 + h % 95 ELSE 50 + h % 1950 END,
      jsonb_build_array(jsonb_build_object('id', 'c1', 'headline', 'Offer ' || i, 'text', 'Handmade in small batches', 'imageUrl', 'https://cdn.kontor.local/' || i || '.jpg',
        'callToAction', 'Shop now', 'landingUrl', 'https://shop' || (i % ${ADVERTISERS}) || '.example/', 'prefilledMessage', 'Hi!', 'templateName', '', 'templateLanguage', '')),
      jsonb_build_object(
        'countries', CASE WHEN i % 50 = 0 THEN '[]'::jsonb ELSE jsonb_build_array((${countries})[1 + h % 20]) END,
        'regions', '[]'::jsonb,
        'languages', CASE WHEN i % 3 = 1 THEN jsonb_build_array((${langs})[1 + (h / 7) % 6]) ELSE '[]'::jsonb END,
        'minAge', CASE WHEN i % 7 = 0 THEN 18 ELSE 0 END, 'maxAge', CASE WHEN i % 7 = 0 THEN 45 ELSE 0 END,
        'interests', CASE WHEN i % 4 = 0 THEN jsonb_build_array((${interests})[1 + (h / 11) % 16]) ELSE '[]'::jsonb END,
        'messagedWithinDays', 0, 'orderedWithinDays', 0,
        'placements', CASE i % 4 WHEN 0 THEN '[]'::jsonb WHEN 1 THEN '["directory_search"]'::jsonb WHEN 2 THEN '["app_feed"]'::jsonb ELSE '["app_banner","app_feed"]'::jsonb END,
        'keywords', '[]'::jsonb, 'followersOnly', false),
      CASE WHEN i % 2 = 0 THEN '{"perDay":3,"perWeek":10}'::jsonb ELSE '{"perDay":0,"perWeek":0}'::jsonb END,
      '{"reasons":[],"reviewer":"bench"}'::jsonb, now() - interval '1 day', now() + interval '30 days', now(), now()
    FROM (SELECT i, abs(hashint4(i)) AS h FROM generate_series(1, ${ADS}) AS i) s`);
  // Ad personalization on for 30% of the customers (the rest get contextual ads only).
  await pool.query(`
    INSERT INTO ${SCHEMA}.customer_consent (customer_id, ad_personalization, changed_at)
    SELECT 'cust_' || i, true, now() FROM generate_series(0, ${CUSTOMERS - 1}) AS i WHERE i % 10 < 3`);
  await pool.query(`VACUUM ANALYZE ${SCHEMA}.campaign`);
}

function startServer(env: Record<string, string>) {
  // BENCH_CPU_PROF=<dir>: the service writes a V8 CPU profile there when it stops.
  // BENCH_SERVER_NODE_ARGS: more node flags for the service (an A/B of --max-semi-space-size=64, say).
  const nodeArgs = [
    ...(process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
  ];
  // BENCH_HEAP_PROF=<file>: the service samples its allocations (garbage included) into a .heapprofile.
  const heapProf: Record<string, string> = {
    ...(process.env.BENCH_HEAP_PROF ? { BENCH_HEAP_PROF: process.env.BENCH_HEAP_PROF } : {}),
    ...(process.env.BENCH_GC_LOG ? { BENCH_GC_LOG: process.env.BENCH_GC_LOG } : {}),
  };
  return startBenchServer<{ port: number; metricsPort: number; activeAds: number }>(join(dirname(fileURLToPath(import.meta.url)), "server.ts"), { ...env, ...heapProf }, { nodeArgs }).then((server) => {
    running = server;
    return server;
  });
}

/** The service process, stopped also when the run fails (a crashed run left it serving). */
let running: { stop(): Promise<void> } | undefined;

/** Per-party CPU (the kit's meter), on the benchmark database's pool once it exists. */
let meter: ReturnType<typeof createCpuMeter> | undefined;
const cpuSnapshot = (serverPid: number): Promise<CpuSnapshot> => meter!.snapshot(serverPid);
const cpuPerOp = (from: CpuSnapshot, to: CpuSnapshot, ops: number): Record<string, number> => meter!.perOp(from, to, ops);

type Samples = Map<string, number>;
/** The service's Prometheus text as name{labels} → value. */
async function scrape(metricsPort: number): Promise<Samples> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * What held the service's event loop between two scrapes (the first resets
 * the lag gauges): its lag p99 and max, garbage collection by kind, and per
 * background pass the count, total and the largest histogram bucket reached.
 */
function loopReport(before: Samples, after: Samples, seconds: number) {
  const diff = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
  const ms = (v: number | undefined) => Math.round((v ?? 0) * 1e5) / 100;
  const byLabel = (prefix: string, label: string) => {
    const out: Record<string, { n: number; ms: number; max_le_ms: number }> = {};
    for (const k of after.keys()) {
      if (!k.startsWith(`${prefix}_count{`)) continue;
      const value = new RegExp(`${label}="([^"]+)"`).exec(k)?.[1];
      if (!value) continue;
      const n = diff(k);
      if (n <= 0) continue;
      // Buckets are cumulative: the largest is the first bound whose count equals the total.
      const bounds = [...after]
        .filter(([bk]) => bk.startsWith(`${prefix}_bucket{`) && bk.includes(`${label}="${value}"`))
        .map(([bk]) => ({ le: /le="([^"]+)"/.exec(bk)?.[1] ?? "+Inf", c: diff(bk) }))
        .sort((a, b) => (a.le === "+Inf" ? 1 : b.le === "+Inf" ? -1 : Number(a.le) - Number(b.le)));
      const first = bounds.find((b) => b.c >= n);
      out[value] = { n, ms: ms(diff(k.replace("_count{", "_sum{"))), max_le_ms: first && first.le !== "+Inf" ? Number(first.le) * 1000 : -1 };
    }
    return out;
  };
  const gc = byLabel("nodejs_gc_duration_seconds", "kind");
  const gcMs = Object.values(gc).reduce((a, g) => a + g.ms, 0);
  return {
    lag_p99_ms: ms(after.get("nodejs_eventloop_lag_p99_seconds{kontor_service=\"ads\"}")),
    lag_max_ms: ms(after.get("nodejs_eventloop_lag_max_seconds{kontor_service=\"ads\"}")),
    gc_ms_per_s: Math.round(gcMs / seconds),
    gc,
    held: byLabel("kontor_ads_loop_held_seconds", "pass"),
  };
}

/** Closed loop: `workers` loops until the phase ends; rate, latencies and CPU per call. */
async function closedLoop(workers: number, durationMs: number, serverPid: number, step: (w: number, i: number) => Promise<void>) {
  const end = Date.now() + durationMs;
  const ms: number[] = [];
  let i = 0;
  const before = await cpuSnapshot(serverPid);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (Date.now() < end) {
        const s = process.hrtime.bigint();
        await step(w, i++);
        ms.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = cpuPerOp(before, await cpuSnapshot(serverPid), ms.length);
  ms.sort((a, b) => a - b);
  return { perS: Math.round(ms.length / seconds), p50: percentile(ms, 50), p99: percentile(ms, 99), cpu };
}

/**
 * Open loop at a fixed rate: calls start on schedule whether or not earlier ones finished (latency counts queueing).
 * A call that fails (its 10-s deadline passed in a queue) counts with the time it took, and in `failed`.
 */
async function paced(ratePerS: number, durationMs: number, serverPid: number, step: (i: number) => Promise<void>) {
  const ms: number[] = [];
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const before = await cpuSnapshot(serverPid);
  const t0 = performance.now();
  let i = 0;
  while (performance.now() - t0 < durationMs) {
    const due = t0 + (i * 1000) / ratePerS;
    const now = performance.now();
    if (due > now) {
      await new Promise((r) => setTimeout(r, Math.max(0, due - now - 0.5)));
      continue;
    }
    const started = due;
    const p: Promise<void> = step(i++).then(
      () => {
        ms.push(performance.now() - started);
        inFlight.delete(p);
      },
      () => {
        failed++;
        ms.push(performance.now() - started);
        inFlight.delete(p);
      },
    );
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuPerOp(before, await cpuSnapshot(serverPid), ms.length);
  ms.sort((a, b) => a - b);
  return { perS: Math.round(ms.length / seconds), p50: percentile(ms, 50), p99: percentile(ms, 99), failed, cpu };
}

/**
 * A day on a driven clock: two replicas of the real service (in this
 * process, sharing one database schema) serve campaigns with small budgets
 * through 96 quarter-hours; the ledger then says whether any campaign spent
 * more than its daily budget plus one maximum bid.
 */
async function simulatedDay(env: Record<string, string>): Promise<{ ok: boolean; campaigns: number; worstOverMilli: number; budgetUsed: number; impressions: number }> {
  const midnight = Date.parse("2030-01-07T00:00:00Z");
  let nowMs = midnight - 3600_000;
  const now = () => new Date(nowMs);
  const dayEnv = { ...env, DB_SCHEMA: "ads_day", NATS_PREFIX: "benchadsday.", LOG_LEVEL: "warn", ADS_PLACEMENT_DAILY_CAP: "0" };
  const day = createDb({ url: benchUrl, schema: "public", max: 2 });
  await day.pool.query("DROP SCHEMA IF EXISTS ads_day CASCADE");
  const replicas = [await createAds(loadConfig(dayEnv), { now }), await createAds(loadConfig(dayEnv), { now })];
  await replicas[0]!.start();
  // Campaigns the day serves: budgets of 300-1,000 cents, CPM bids of 500-2,000 (each impression costs up to 2 cents).
  await day.pool.query(`
    INSERT INTO ads_day.campaign (id, business_id, name, objective, goal, status, daily_budget_minor, currency, bid_kind, bid_minor, creatives, targeting, frequency_cap, review, flight_start_at, flight_end_at, created_at, updated_at)
    SELECT gen_random_uuid(), 'biz_' || i, 'Day ' || i, 'display', 'traffic', 'active', 300 + (abs(hashint4(i)) % 700), 'EUR', 'cpm', 500 + (abs(hashint4(i * 3)) % 1500),
      '[{"id":"c1","headline":"Day","text":"","imageUrl":"","callToAction":"","landingUrl":"https://d.example/","prefilledMessage":"","templateName":"","templateLanguage":""}]'::jsonb,
      jsonb_build_object('countries', jsonb_build_array((ARRAY['PT','BR','ES','FR'])[1 + i % 4]), 'regions', '[]'::jsonb, 'languages', '[]'::jsonb, 'minAge', 0, 'maxAge', 0, 'interests', '[]'::jsonb,
        'messagedWithinDays', 0, 'orderedWithinDays', 0, 'placements', '[]'::jsonb, 'keywords', '[]'::jsonb, 'followersOnly', false),
      '{"perDay":0,"perWeek":0}'::jsonb, '{"reasons":[],"reviewer":"bench"}'::jsonb, $1, $2, $1, $1
    FROM generate_series(1, ${DAY_CAMPAIGNS}) AS i`, [new Date(midnight - 86_400_000), new Date(midnight + 30 * 86_400_000)]);
  // Load what was just inserted (as a restart would).
  for (const r of replicas) await r.serving.load();
  await replicas[1]!.start();
  let impressions = 0;
  for (let step = 0; step < 96; step++) {
    nowMs = midnight + step * 15 * 60_000 + 30_000;
    for (let k = 0; k < DAY_REQUESTS; k++) {
      const app = replicas[k % 2]!;
      impressions += app.serving.select({ placement: "app_feed", customerId: "", country: ["PT", "BR", "ES", "FR"][k % 4]!, region: "", language: "", age: 0, interests: [], query: "", count: 3 }).length;
      if (k % 25 === 24) await Promise.all(replicas.map((r) => r.serving.settle()));
    }
    await Promise.all(replicas.map((r) => r.serving.settle()));
  }
  for (const r of replicas) await r.serving.flush();
  const { rows } = await day.pool.query<{ campaign_id: string; budget: string; bid: string; spent: string }>(`
    SELECT c.id AS campaign_id, c.daily_budget_minor * 1000 AS budget, c.bid_minor AS bid, COALESCE(sum(l.amount_milli), 0) AS spent
    FROM ads_day.campaign c LEFT JOIN ads_day.spend_ledger l ON l.campaign_id = c.id AND l.day = '2030-01-07' GROUP BY c.id`);
  for (const r of replicas) await r.stop();
  await day.pool.query("DROP SCHEMA IF EXISTS ads_day CASCADE");
  await day.db.destroy();
  // A CPM bid is per thousand impressions: one maximum impression costs `bid` thousandths.
  let worst = Number.NEGATIVE_INFINITY;
  let spent = 0;
  let budget = 0;
  for (const r of rows) {
    worst = Math.max(worst, Number(r.spent) - Number(r.budget) - Number(r.bid));
    spent += Number(r.spent);
    budget += Number(r.budget);
  }
  return { ok: worst <= 0, campaigns: rows.length, worstOverMilli: Math.round(worst + 0), budgetUsed: Math.round((spent / budget) * 1000) / 1000, impressions };
}

async function main() {
  const started = Date.now();
  const admin = createDb({ url: adminUrl, schema: "public", max: 1 });
  const exists = await admin.pool.query("SELECT 1 FROM pg_database WHERE datname = $1", [DB_NAME]);
  if (exists.rowCount === 0) await admin.pool.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.db.destroy();
  const bench = createDb({ url: benchUrl, schema: SCHEMA, max: 2 });
  meter = createCpuMeter(bench.pool);
  const fingerprint = JSON.stringify({ ads: ADS, advertisers: ADVERTISERS, customers: CUSTOMERS, generator: GENERATOR_VERSION });
  await bench.pool.query("CREATE TABLE IF NOT EXISTS public.bench_meta (fingerprint text PRIMARY KEY, seed_seconds float8 NOT NULL)");
  const meta = await bench.pool.query<{ seed_seconds: number }>("SELECT seed_seconds FROM public.bench_meta WHERE fingerprint = $1", [fingerprint]);
  const reused = meta.rowCount === 1;

  const keys = await generateSigningKeys("bench");
  const signer = await createTokenSigner(keys.privateJwk);
  const serviceEnv = {
    DATABASE_URL: benchUrl,
    NATS_URL: natsUrl,
    NATS_PREFIX: "benchads.",
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]),
    DB_POOL_MAX: "8",
    ADS_TOKEN_SECRET: TOKEN_SECRET,
  };
  let seedSeconds = meta.rows[0]?.seed_seconds ?? 0;
  if (!reused) {
    log("no matching seeded database: rebuilding");
    await bench.pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await bench.pool.query("DELETE FROM public.bench_meta");
    // The service creates its schema; then the ads go in by bulk SQL.
    const migrator = await startServer(serviceEnv);
    await migrator.stop();
    const t0 = Date.now();
    await seed(bench.pool);
    seedSeconds = (Date.now() - t0) / 1000;
    await bench.pool.query("INSERT INTO public.bench_meta VALUES ($1, $2)", [fingerprint, seedSeconds]);
    log(`seeded ${ADS} ads in ${seedSeconds.toFixed(1)} s`);
  } else {
    log(`reusing the seeded database (seeded in ${seedSeconds.toFixed(1)} s)`);
    // Yesterday's serving state goes; the ads and consents stay.
    await bench.pool.query(`TRUNCATE ${SCHEMA}.impression, ${SCHEMA}.click, ${SCHEMA}.spend_ledger, ${SCHEMA}.campaign_day`);
    await bench.pool.query(`UPDATE ${SCHEMA}.campaign SET lifetime_leased_milli = 0, flight_start_at = now() - interval '1 day', flight_end_at = now() + interval '30 days'`);
  }

  const loadT0 = Date.now();
  const server = await startServer(serviceEnv);
  const loadSeconds = (Date.now() - loadT0) / 1000;
  log(`service up with ${server.activeAds} ads in its index (${loadSeconds.toFixed(1)} s)`);
  const client = new AdsServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const surface = await signer.sign({ kind: "service", service: "directory" }, { expiresIn: "2h" });

  const r = rng(99);
  const request = (): SelectAdsRequest => {
    const i = Math.floor(r() * CUSTOMERS);
    return { placement: PLACEMENTS[i % 3]!, customerId: `cust_${i}`, context: profileOf(i), count: 1 + (i % 3) };
  };
  let filled = 0;
  let asked = 0;
  const select = async () => {
    const req = request();
    const { ads } = await unaryCall(client.selectAds.bind(client), req, { token: surface });
    asked += req.count;
    filled += ads.length;
  };
  const noopMd = new Metadata();
  const noop = () =>
    new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), noopMd, {}, (err) => (err ? reject(err) : resolve())),
    );

  // Warm-up: leases arrive, JIT settles.
  await closedLoop(CONCURRENCY, 3000, server.pid, select);
  const full = await closedLoop(CONCURRENCY, PHASE_MS, server.pid, select);
  log(`full speed: ${JSON.stringify(full)}`);
  // Paced at the target when the closed loop reached it (the target's own question); below that, at 70% of what
  // the closed loop reached (an open loop at capacity only measures its own queue).
  const rate = full.perS >= TARGET_RATE ? TARGET_RATE : Math.floor(full.perS * 0.7);
  // What held either side's event loop while paced: the service's from its metrics, the load generator's own.
  const scraped = await scrape(server.metricsPort);
  const clientLoop = monitorEventLoopDelay({ resolution: 5 });
  clientLoop.enable();
  const atTarget = await paced(rate, PHASE_MS, server.pid, select);
  clientLoop.disable();
  const serverLoop = loopReport(scraped, await scrape(server.metricsPort), PHASE_MS / 1000);
  log(`paced at ${rate}/s: ${JSON.stringify(atTarget)}`);
  log(`paced, service loop: ${JSON.stringify(serverLoop)}`);
  // The floor under that p99: a call that does nothing (the health check, same server, client and channel) paced at the same rate.
  const noopPaced = await paced(rate, LIMIT_MS, server.pid, noop);
  log(`no-op paced at ${rate}/s: ${JSON.stringify(noopPaced)}`);
  const noopLimit = await closedLoop(CONCURRENCY, LIMIT_MS, server.pid, noop);
  client.close();
  await server.stop();

  log("simulated day (two replicas, driven clock)");
  const day = await simulatedDay(serviceEnv);
  await bench.db.destroy();

  reportBench("ads", {
    bench: "ads",
    metrics: {
      active_ads: server.activeAds,
      advertisers: ADVERTISERS,
      customer_profiles: CUSTOMERS,
      select_per_s: full.perS,
      select_p50_ms: atTarget.p50,
      select_p99_ms: atTarget.p99,
      select_p99_rate_per_s: atTarget.perS,
      select_paced_failed: atTarget.failed,
      select_p99_at_full_speed_ms: full.p99,
      select_to_grpc_limit: Math.round((full.perS / noopLimit.perS) * 100) / 100,
      // What the cores would allow at this CPU per selection (service, its PostgreSQL backends and the load generator).
      select_cpu_bound_per_s: Math.round((os.cpus().length * 1e6) / Math.max(1, full.cpu.own!)),
      slots_filled_ratio: Math.round((filled / Math.max(1, asked)) * 1000) / 1000,
      overspend_ok: day.ok,
      day_campaigns: day.campaigns,
      day_worst_over_budget_plus_bid_milli: day.worstOverMilli,
      day_budget_used: day.budgetUsed,
      day_impressions: day.impressions,
      index_load_seconds: Math.round(loadSeconds * 10) / 10,
      seed_seconds: Math.round(seedSeconds),
      seed_reused: reused,
    },
    limits: {
      grpc_noop_per_s: noopLimit.perS,
      grpc_noop_p50_ms: noopLimit.p50,
      grpc_noop_p99_ms: noopLimit.p99,
      grpc_noop_p50_ms_at_select_rate: noopPaced.p50,
      grpc_noop_p99_ms_at_select_rate: noopPaced.p99,
    },
    cpu_us_per_op: { select: full.cpu, select_at_target: atTarget.cpu, grpc_noop: noopLimit.cpu },
    // While paced: the service's event-loop lag, GC and background passes; the load generator's own lag.
    loop_at_target: { server: serverLoop, client_lag_p99_ms: Math.round(clientLoop.percentile(99) / 1e4) / 100, client_lag_max_ms: Math.round(clientLoop.max / 1e4) / 100 },
    env: { cpus: os.cpus().length, node: process.version, seconds: Math.round((Date.now() - started) / 1000) },
  });
}

main().catch(async (err: unknown) => {
  process.stderr.write(`[bench:ads] failed: ${(err as Error).stack ?? String(err)}\n`);
  await running?.stop();
  process.exit(1);
});
