/**
 * Profiling aid (not part of bench:ads): loads the seeded bench database
 * (run bench:ads once first) into one in-process serving engine and calls
 * select() in a loop with bench:ads's request mix, without gRPC. Prints µs
 * per selection and the slot fill. MICRO_HEAP_PROF=<file> samples what the
 * measured loop allocates (garbage included) into a .heapprofile.
 *   node --conditions=@kontor/source --import tsx bench/select-micro.ts
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { benchUrls } from "@kontor/service-kit/bench";
import { generateSigningKeys } from "@kontor/service-kit/auth";
import { loadConfig } from "../src/config.js";
import { createAds } from "../src/app.js";

const N = Number(process.env.MICRO_N ?? 200_000);
const { benchUrl, natsUrl } = benchUrls("kontor_bench_ads");
const app = await createAds(
  loadConfig({ DATABASE_URL: benchUrl, NATS_URL: natsUrl, NATS_PREFIX: "benchmicro.", GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn", AUTH_PUBLIC_KEYS: JSON.stringify([(await generateSigningKeys("micro")).publicJwk]), ADS_TOKEN_SECRET: "bench-ads-token-secret-0123456789abcdef" }),
);
await app.start();
const COUNTRIES = ["PT", "BR", "ES", "FR", "DE", "IT", "GB", "US", "MX", "IN", "ID", "NG", "KE", "ZA", "EG", "TR", "PL", "NL", "SE", "AR"];
const LANGUAGE: Record<string, string> = { PT: "pt", BR: "pt", ES: "es", MX: "es", AR: "es", FR: "fr", DE: "de", IT: "it", NL: "nl", SE: "sv", PL: "pl", TR: "tr", ID: "id", EG: "ar" };
const INTERESTS = ["apparel", "beauty", "books", "electronics", "food_and_drink", "home_and_garden", "health_and_fitness", "travel", "automotive", "finance", "education", "entertainment", "sports", "pets", "kids_and_family", "real_estate"];
const PL = ["directory_search", "app_banner", "app_feed"] as const;
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
const r = rng(7);
const req = () => {
  const i = Math.floor(r() * 1_000_000);
  const p = rng(i * 7919 + 1);
  const country = COUNTRIES[Math.floor(p() * COUNTRIES.length)]!;
  return { placement: PL[i % 3]!, customerId: `cust_${i}`, country, region: "", language: LANGUAGE[country] ?? "en", age: 16 + Math.floor(p() * 60), interests: [INTERESTS[Math.floor(p() * 16)]!, INTERESTS[Math.floor(p() * 16)]!], query: "", count: 1 + (i % 3) };
};
// Warm: leases for everything that gets asked.
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 5000; i++) app.serving.select(req());
  await app.serving.settle();
}
await app.serving.flush();
let asked = 0;
let filled = 0;
const reqs = Array.from({ length: N }, req);
let selectUs = 0;
let flushUs = 0;
const heapProf = process.env.MICRO_HEAP_PROF;
const profiler = heapProf ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
}
const all0 = process.cpuUsage();
const t0 = performance.now();
for (let at = 0; at < N; at += 2000) {
  const c0 = process.cpuUsage();
  for (let i = at; i < Math.min(N, at + 2000); i++) {
    const q = reqs[i]!;
    asked += q.count;
    filled += app.serving.select(q).length;
  }
  const c1 = process.cpuUsage(c0);
  selectUs += c1.user + c1.system;
  const c2 = process.cpuUsage();
  await app.serving.flush();
  const c3 = process.cpuUsage(c2);
  flushUs += c3.user + c3.system;
}
const ms = performance.now() - t0;
if (profiler) {
  const { profile } = (await profiler.post("HeapProfiler.stopSampling")) as { profile: unknown };
  writeFileSync(heapProf!, JSON.stringify(profile));
}
await new Promise((r) => setTimeout(r, 3000));
const all = process.cpuUsage(all0);
process.stdout.write(`${JSON.stringify({ n: N, wall_us_per_select: Math.round((ms * 1000) / N), select_cpu_us: Math.round(selectUs / N), flush_cpu_us: Math.round(flushUs / N), process_cpu_us_incl_3s_drain: Math.round((all.user + all.system) / N), filled: Math.round((filled / asked) * 1000) / 1000 })}\n`);
await app.stop();
process.exit(0);
