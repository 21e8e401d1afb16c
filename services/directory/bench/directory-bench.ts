/**
 * npm run bench:directory
 *
 * Seeds BENCH_BUSINESSES (default 1,000,000) generated businesses into its own
 * database (kontor_bench_directory; reused when it already holds the same
 * seed), starts the real directory service in-process, and measures search
 * latency over gRPC for five query kinds (text, typo, category+geo, open now,
 * autocomplete), BENCH_QUERIES each (default 2,000), one at a time after a
 * short warm-up. Prints one JSON line and writes bench-results/directory.json
 * (plus the EXPLAIN plans in bench-results/directory-plans.txt).
 */
import os from "node:os";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { credentials } from "@grpc/grpc-js";
import { DirectoryServiceClient, type SearchBusinessesRequest, type SuggestBusinessesRequest } from "@kontor/proto/directory/v1/directory_service";
import { createTokenSigner, generateSigningKeys } from "@kontor/service-kit/auth";
import { benchKnob, repoRoot, reportBench, benchUrls } from "@kontor/service-kit/bench";
import { createDb } from "@kontor/service-kit/db";
import { unaryCall } from "@kontor/service-kit/grpc-client";
import { connectNats, domainStream } from "@kontor/service-kit/nats";
import { loadConfig } from "../src/config.js";
import { createDirectory } from "../src/app.js";
import { findCategory } from "../src/domain/taxonomy.js";
import { searchQuery, suggestQuery } from "../src/store/search-store.js";
import { EPOCH_DAY, makeQueries, type Kind, type Query } from "./queries.js";
import { seed } from "./seed.js";

const COUNT = benchKnob("BENCH_BUSINESSES", 1_000_000);
const SEED = benchKnob("BENCH_SEED", 42, 0);
const QUERIES = benchKnob("BENCH_QUERIES", 2_000);
const WARMUP = benchKnob("BENCH_WARMUP", 200, 0);
/** Bump when the generator or the seeded layout changes, so an old bench database is rebuilt. */
const GENERATOR_VERSION = 4;
const DB_NAME = "kontor_bench_directory";
const SCHEMA = "directory";

const { adminUrl, natsUrl, benchUrl } = benchUrls(DB_NAME);

const log = (msg: string) => process.stderr.write(`[bench:directory] ${msg}\n`);

async function startServer(env: Record<string, string>): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--conditions=@kontor/source", "--import", "tsx", join(dirname(fileURLToPath(import.meta.url)), "server.ts")], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.on("exit", (code) => reject(new Error(`the service exited during start (${code})`)));
  });
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, idx)]! * 100) / 100;
}

async function main() {
  const started = Date.now();
  const admin = createDb({ url: adminUrl, schema: "public", max: 1 });
  const exists = await admin.pool.query("SELECT 1 FROM pg_database WHERE datname = $1", [DB_NAME]);
  if (exists.rowCount === 0) await admin.pool.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.db.destroy();

  const bench = createDb({ url: benchUrl, schema: SCHEMA, max: 4 });
  // New migrations apply to a reused database at start; bump GENERATOR_VERSION when seeded data must change.
  const fingerprint = JSON.stringify({ count: COUNT, seed: SEED, generator: GENERATOR_VERSION });
  await bench.pool.query("CREATE TABLE IF NOT EXISTS public.bench_meta (fingerprint text PRIMARY KEY, seeded_at timestamptz NOT NULL, seed_seconds float8 NOT NULL)");
  const meta = await bench.pool.query<{ seed_seconds: number }>("SELECT seed_seconds FROM public.bench_meta WHERE fingerprint = $1", [fingerprint]);
  const reused = meta.rowCount === 1;
  if (!reused) {
    log("no matching seeded database: rebuilding");
    await bench.pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await bench.pool.query("DELETE FROM public.bench_meta");
  }

  const keys = await generateSigningKeys("bench");
  const signer = await createTokenSigner(keys.privateJwk);
  const prefix = "benchdir.";
  const serviceEnv = {
    DATABASE_URL: benchUrl,
    NATS_URL: natsUrl,
    NATS_PREFIX: prefix,
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]),
    DB_POOL_MAX: "8",
    POPULARITY_FROM_MESSAGING: "false",
  };
  // The service runs in a child process (its own event loop and core; it migrates at start); this
  // process seeds, generates the load, and EXPLAINs through an unstarted instance of the same code.
  const server = await startServer(serviceEnv);
  const port = server.port;
  const app = await createDirectory(loadConfig(serviceEnv));

  let seedSeconds = meta.rows[0]?.seed_seconds ?? 0;
  if (!reused) {
    const t0 = Date.now();
    await seed(bench.pool, SCHEMA, COUNT, SEED, EPOCH_DAY, log);
    seedSeconds = (Date.now() - t0) / 1000;
    await bench.pool.query("INSERT INTO public.bench_meta VALUES ($1, now(), $2)", [fingerprint, seedSeconds]);
    log(`seeded ${COUNT} businesses in ${seedSeconds.toFixed(1)} s`);
  } else {
    log(`reusing the seeded database (${COUNT} businesses, seed ${SEED}; seeded in ${seedSeconds.toFixed(1)} s)`);
  }
  const { rows: countRows } = await bench.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.business_search`);
  const businesses = Number(countRows[0]!.n);

  const client = new DirectoryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const token = await signer.sign({ kind: "customer", customerId: "bench_customer" }, { expiresIn: "2h" });
  const run = (q: Query) =>
    q.search
      ? unaryCall(client.searchBusinesses.bind(client), q.search, { token }).then((res) => res.results.map((x) => x.business!))
      : unaryCall(client.suggestBusinesses.bind(client), q.suggest!, { token }).then((res) => res.suggestions.map((x) => x.business!));

  const all = makeQueries({ count: COUNT, seed: SEED, epochDay: EPOCH_DAY }, QUERIES + WARMUP);
  const kinds: Kind[] = ["text", "typo", "category_geo", "open_now", "autocomplete"];
  const metrics: Record<string, number | boolean> = { businesses };
  const quality: Record<string, number> = {};
  const medianQuery: Partial<Record<Kind, Query>> = {};
  for (const kind of kinds) {
    const qs = all.filter((q) => q.kind === kind);
    for (const q of qs.slice(0, WARMUP)) await run(q);
    const measured = qs.slice(WARMUP);
    const times: { ms: number; q: Query }[] = [];
    let found = 0;
    let named = 0;
    let empty = 0;
    for (const q of measured) {
      const t0 = process.hrtime.bigint();
      const results = await run(q);
      times.push({ ms: Number(process.hrtime.bigint() - t0) / 1e6, q });
      if (results.length === 0) empty++;
      if (q.target) {
        named++;
        const name = q.target.displayName;
        if (results.slice(0, 10).some((b) => b.displayName === name)) found++;
      }
    }
    times.sort((a, b) => a.ms - b.ms);
    const ms = times.map((t) => t.ms);
    metrics[`${kind}_p50_ms`] = percentile(ms, 50);
    metrics[`${kind}_p95_ms`] = percentile(ms, 95);
    metrics[`${kind}_p99_ms`] = percentile(ms, 99);
    metrics[`${kind}_max_ms`] = percentile(ms, 100);
    quality[`${kind}_empty_ratio`] = Math.round((empty / measured.length) * 1000) / 1000;
    if (named > 0) quality[`${kind}_name_in_top10`] = Math.round((found / named) * 1000) / 1000;
    medianQuery[kind] = times[Math.floor(times.length / 2)]!.q;
    log(`${kind}: p50 ${metrics[`${kind}_p50_ms`]} ms, p99 ${metrics[`${kind}_p99_ms`]} ms over ${measured.length} queries`);
  }
  // The floor under every number above: the same client, a gRPC call that does no database work.
  const noop: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = process.hrtime.bigint();
    await unaryCall(client.listCategories.bind(client), {}, { token });
    noop.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  noop.sort((a, b) => a - b);
  const limits = { grpc_noop_p50_ms: percentile(noop, 50), grpc_noop_p95_ms: percentile(noop, 95), grpc_noop_p99_ms: percentile(noop, 99) };
  metrics.seed_per_s = Math.round(COUNT / seedSeconds);
  metrics.seed_reused = reused;
  metrics.queries_per_kind = QUERIES;

  // The plans behind the median query of each kind, as the service runs them.
  const plans: string[] = [];
  for (const kind of kinds) {
    const q = medianQuery[kind]!;
    const label = q.search ? JSON.stringify({ ...q.search, page: undefined }) : JSON.stringify(q.suggest);
    let stmt;
    if (q.search) {
      const plan = await app.services.directory.planSearch(q.search, { pageSize: 20, pageToken: "" });
      stmt = plan.params ? searchQuery(plan.params) : undefined;
    } else {
      const params = await app.services.directory.planSuggest({ prefix: q.suggest!.prefix, near: q.suggest!.near, limit: q.suggest!.limit });
      stmt = params ? suggestQuery(params) : undefined;
    }
    if (!stmt) continue;
    const { rows } = await sql<{ "QUERY PLAN": string }>`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) ${stmt}`.execute(app.runtime.db);
    // Long filter and sort expressions are cut: the shape of the plan is what matters here.
    const lines = rows.map((r) => r["QUERY PLAN"]).map((l) => (l.length > 180 ? `${l.slice(0, 177)}...` : l));
    plans.push(`### ${kind}: ${label}\n\n\`\`\`\n${lines.join("\n")}\n\`\`\`\n`);
  }

  client.close();
  await server.stop();
  await app.stop();
  const { rows: pgRows } = await bench.pool.query<{ v: string; sb: string }>("SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb");
  await bench.db.destroy();
  const nc = await connectNats({ url: natsUrl, name: "bench-cleanup" });
  await (await nc.jetstreamManager()).streams.delete(domainStream(prefix, "directory").name).catch(() => undefined);
  await nc.close();

  const result = {
    bench: "directory",
    metrics,
    limits,
    quality,
    env: { cpus: os.cpus().length, loadavg_1m: Math.round(os.loadavg()[0]! * 100) / 100, node: process.version, postgres: pgRows[0]?.v, shared_buffers: pgRows[0]?.sb, seconds: Math.round((Date.now() - started) / 1000) },
  };
  reportBench("directory", result);
  writeFileSync(join(repoRoot, "bench-results", "directory-plans.txt"), plans.join("\n"));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`[bench:directory] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
