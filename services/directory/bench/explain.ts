/**
 * Tuning aid: replays one kind of bench query straight against the seeded
 * bench database (no gRPC), and EXPLAINs the slowest ones.
 *   node --conditions=@kontor/source --import tsx bench/explain.ts text 3 [queries]
 */
import { sql } from "kysely";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { loadConfig } from "../src/config.js";
import { createDirectory } from "../src/app.js";
import { searchQuery, suggestQuery } from "../src/store/search-store.js";
import { EPOCH_DAY, makeQueries, type Kind, type Query } from "./queries.js";

const kind = (process.argv[2] ?? "text") as Kind;
const top = Number(process.argv[3] ?? 3);
const n = Number(process.argv[4] ?? 500);
const adminUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const url = new URL(adminUrl);
url.pathname = "/kontor_bench_directory";

const keys = await generateSigningKeys("explain");
const app = await createDirectory(
  loadConfig({ DATABASE_URL: url.toString(), NATS_PREFIX: "benchexplain.", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn", AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]), POPULARITY_FROM_MESSAGING: "false" }),
);
const dir = app.services.directory;
const stmtOf = async (q: Query) => {
  if (q.search) {
    const plan = await dir.planSearch(q.search, { pageSize: 20, pageToken: "" });
    return plan.params ? searchQuery(plan.params) : undefined;
  }
  const p = await dir.planSuggest({ prefix: q.suggest!.prefix, near: q.suggest!.near, limit: q.suggest!.limit });
  return p ? suggestQuery(p) : undefined;
};
const qs = makeQueries({ count: Number(process.env.BENCH_BUSINESSES ?? 1_000_000), seed: 42, epochDay: EPOCH_DAY }, n).filter((q) => q.kind === kind);
const times: { ms: number; q: Query; prep: number; est?: number }[] = [];
for (const q of qs) {
  const p0 = performance.now();
  const stmt = await stmtOf(q);
  const prep = performance.now() - p0;
  if (!stmt) continue;
  const t0 = performance.now();
  await stmt.execute(app.runtime.db);
  const est = q.search ? (await dir.planSearch(q.search, { pageSize: 20, pageToken: "" })).text?.estimate : undefined;
  times.push({ ms: performance.now() - t0, q, prep, est });
}
const preps = times.map((t) => t.prep).sort((a, b) => a - b);
console.log(`prepare: p50 ${preps[Math.floor(preps.length / 2)]?.toFixed(2)} ms, p99 ${preps[Math.floor(preps.length * 0.99)]?.toFixed(2)} ms`);
times.sort((a, b) => b.ms - a.ms);
const pct = (p: number) => times[Math.floor(((100 - p) / 100) * times.length)]?.ms.toFixed(2);
console.log(`${kind}: ${times.length} queries, p50 ${pct(50)} ms, p99 ${pct(99)} ms (SQL only)`);
for (const t of times.slice(0, top)) {
  console.log(`\n=== ${t.ms.toFixed(1)} ms est=${t.est} ${JSON.stringify(t.q.search ? { ...t.q.search, page: undefined } : t.q.suggest)}`);
  const stmt = (await stmtOf(t.q))!;
  const { rows } = await sql<{ "QUERY PLAN": string }>`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${stmt}`.execute(app.runtime.db);
  console.log(rows.map((r) => r["QUERY PLAN"]).join("\n"));
}
await app.stop();
process.exit(0);
