/**
 * npm run bench:catalog
 *
 * Seeds (once; reused while the fingerprint matches) BENCH_PRODUCTS products
 * (default 100,000) into one catalog and BENCH_CATALOGS - 1 small catalogs
 * (default 1,000 catalogs in all) through BulkUpsertProducts, in its own
 * database (kontor_bench_catalog); the service runs in a child process.
 * Then measures, over gRPC: browse (SearchProducts without text, first
 * and later pages) and text search p50/p99 against a no-op gRPC call's p99
 * on the same channel; the oversell race (200 concurrent chat orders for 50
 * units of one SKU); checkouts per second with 64 customers on distinct
 * SKUs and with 64 customers on one SKU. Prints one JSON line and writes
 * bench-results/catalog.json.
 */
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { CatalogServiceClient, ProductInput, type BulkUpsertProductsResponse } from "@kontor/proto/catalog/v1/catalog_service";
import { createTokenSigner, generateSigningKeys } from "@kontor/service-kit/auth";
import { benchKnob, createCpuMeter, percentile, reportBench, type CpuSnapshot, benchUrls, startBenchServer } from "@kontor/service-kit/bench";
import { createDb, createPool } from "@kontor/service-kit/db";
import { errorDetail } from "@kontor/service-kit/errors";
import { unaryCall } from "@kontor/service-kit/grpc-client";

const PRODUCTS = benchKnob("BENCH_PRODUCTS", 100_000);
const CATALOGS = benchKnob("BENCH_CATALOGS", 1_000);
const SMALL = benchKnob("BENCH_SMALL_CATALOG_PRODUCTS", 10);
const QUERIES = benchKnob("BENCH_QUERIES", 600);
const PHASE_MS = benchKnob("BENCH_PHASE_MS", 6_000);
const CONCURRENCY = benchKnob("BENCH_CONCURRENCY", 64);
const LIMIT_MS = benchKnob("BENCH_LIMIT_MS", 3_000);
const GENERATOR_VERSION = 1;
const DB_NAME = "kontor_bench_catalog";
const SCHEMA = "catalog";
const BIZ = "biz_bench";

const { adminUrl, natsUrl, benchUrl } = benchUrls(DB_NAME);
const log = (msg: string) => process.stderr.write(`[bench:catalog] ${msg}\n`);

const ADJ = ["Blue", "Red", "Green", "Crème", "Rustic", "Modern", "Tiny", "Large", "Soft", "Bright", "Café", "Noir", "Golden", "Silver", "Vintage", "Classic", "Organic", "Handmade", "Smoky", "Pastel"];
const MATERIAL = ["ceramic", "linen", "cotton", "glass", "oak", "walnut", "leather", "wool", "brass", "copper", "bamboo", "marble", "silk", "steel", "clay"];
const NOUN = ["vase", "mug", "shirt", "lamp", "bowl", "plate", "scarf", "candle", "basket", "teapot", "jacket", "chair", "blanket", "pillow", "frame", "bottle", "jar", "tray", "rug", "stool"];
const CATEGORY = ["home", "kitchen", "apparel", "decor", "garden", "gifts", "bath", "office"];

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
const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;

function productAt(i: number, r: () => number): ProductInput {
  const name = `${pick(r, ADJ)} ${pick(r, MATERIAL)} ${pick(r, NOUN)} ${i}`;
  return ProductInput.fromPartial({
    retailerId: `SKU-${i}`,
    name,
    description: `${pick(r, ADJ)} ${pick(r, MATERIAL)} ${pick(r, NOUN)} for the ${pick(r, CATEGORY)}`,
    price: { amountMinor: String(100 + Math.floor(r() * 100_000)), currency: "EUR" },
    categories: [pick(r, CATEGORY)],
    inventory: String(1_000_000),
  });
}

function startServer(env: Record<string, string>) {
  return startBenchServer<{ port: number }>(join(dirname(fileURLToPath(import.meta.url)), "server.ts"), env);
}

/** Per-party CPU (the kit's meter), on the benchmark database's pool once it exists. */
let meter: ReturnType<typeof createCpuMeter> | undefined;
const cpuSnapshot = (serverPid: number): Promise<CpuSnapshot> => meter!.snapshot(serverPid);
const cpuPerOp = (from: CpuSnapshot, to: CpuSnapshot, ops: number): Record<string, number> => meter!.perOp(from, to, ops);

function bulk(client: CatalogServiceClient, token: string, catalogId: string, rows: ProductInput[]): Promise<BulkUpsertProductsResponse> {
  const md = new Metadata();
  md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    const call = client.bulkUpsertProducts(md, (err, res) => (err ? reject(err) : resolve(res!)));
    for (let i = 0; i < rows.length; i += 1000) call.write({ catalogId: i === 0 ? catalogId : "", products: rows.slice(i, i + 1000) });
    call.end();
  });
}

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b);
}

/** `workers` loops each running `step` until the phase ends; completed steps per second and CPU per step by party. */
async function throughput(workers: number, durationMs: number, serverPid: number, step: (worker: number) => Promise<void>): Promise<{ perS: number; cpu: Record<string, number> }> {
  const end = Date.now() + durationMs;
  let done = 0;
  const before = await cpuSnapshot(serverPid);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (Date.now() < end) {
        await step(w);
        done++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perS: Math.round(done / seconds), cpu: cpuPerOp(before, await cpuSnapshot(serverPid), done) };
}

async function main() {
  const started = Date.now();
  const admin = createDb({ url: adminUrl, schema: "public", max: 1 });
  const exists = await admin.pool.query("SELECT 1 FROM pg_database WHERE datname = $1", [DB_NAME]);
  if (exists.rowCount === 0) await admin.pool.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.db.destroy();
  const bench = createDb({ url: benchUrl, schema: SCHEMA, max: 2 });
  meter = createCpuMeter(bench.pool);
  const fingerprint = JSON.stringify({ products: PRODUCTS, catalogs: CATALOGS, small: SMALL, generator: GENERATOR_VERSION });
  await bench.pool.query("CREATE TABLE IF NOT EXISTS public.bench_meta (fingerprint text PRIMARY KEY, big_catalog uuid NOT NULL, seed_seconds float8 NOT NULL)");
  const meta = await bench.pool.query<{ big_catalog: string; seed_seconds: number }>("SELECT big_catalog, seed_seconds FROM public.bench_meta WHERE fingerprint = $1", [fingerprint]);
  const reused = meta.rowCount === 1;
  if (!reused) {
    log("no matching seeded database: rebuilding");
    await bench.pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await bench.pool.query("DELETE FROM public.bench_meta");
  }

  const keys = await generateSigningKeys("bench");
  const signer = await createTokenSigner(keys.privateJwk);
  const serviceEnv = {
    DATABASE_URL: benchUrl,
    NATS_URL: natsUrl,
    NATS_PREFIX: "benchcat.",
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]),
    DB_POOL_MAX: "16",
    SWEEP_INTERVAL_MS: "0",
    CONSUME_PAYMENTS: "false",
  };
  const server = await startServer(serviceEnv);
  const client = new CatalogServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 });
  const owner = await signer.sign({ kind: "business", businessId: BIZ }, { expiresIn: "2h" });
  const shopper = await signer.sign({ kind: "customer", customerId: "c_bench" }, { expiresIn: "2h" });

  let bigCatalog = meta.rows[0]?.big_catalog ?? "";
  let seedSeconds = meta.rows[0]?.seed_seconds ?? 0;
  if (!reused) {
    const t0 = Date.now();
    bigCatalog = (await unaryCall(client.createCatalog.bind(client), { businessId: BIZ, name: "Everything" }, { token: owner })).catalog!.id;
    const r = rng(42);
    for (let start = 0; start < PRODUCTS; start += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, PRODUCTS - start) }, (_, k) => productAt(start + k, r));
      const res = await bulk(client, owner, bigCatalog, rows);
      if (res.failed > 0) throw new Error(`seed: ${res.failed} rows failed (${res.results.find((x) => x.message)?.message})`);
      log(`seeded ${start + rows.length} / ${PRODUCTS} products`);
    }
    for (let c = 1; c < CATALOGS; c++) {
      const biz = `biz_small_${c}`;
      const token = await signer.sign({ kind: "business", businessId: biz }, { expiresIn: "2h" });
      const id = (await unaryCall(client.createCatalog.bind(client), { businessId: biz, name: `Small ${c}` }, { token })).catalog!.id;
      await bulk(client, token, id, Array.from({ length: SMALL }, (_, k) => productAt(k, r)));
    }
    // What autovacuum does in time on a live system: merge the GIN pending lists and refresh statistics.
    for (const t of ["product", "product_search", "product_word"]) await bench.pool.query(`VACUUM ANALYZE ${SCHEMA}.${t}`);
    seedSeconds = (Date.now() - t0) / 1000;
    await bench.pool.query("INSERT INTO public.bench_meta VALUES ($1, $2, $3)", [fingerprint, bigCatalog, seedSeconds]);
    log(`seeded in ${seedSeconds.toFixed(1)} s`);
  } else log(`reusing the seeded database (seeded in ${seedSeconds.toFixed(1)} s)`);
  const { rows: counts } = await bench.pool.query<{ n: string; catalogs: string }>(
    `SELECT (SELECT count(*) FROM ${SCHEMA}.product WHERE catalog_id = $1) AS n, (SELECT count(*) FROM ${SCHEMA}.catalog WHERE name NOT LIKE 'Race %' AND name NOT LIKE 'Checkout %') AS catalogs`,
    [bigCatalog],
  );

  // The floor: a no-op gRPC call (health check) on the same channel.
  const noop = () =>
    new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), {}, (err) => (err ? reject(err) : resolve())),
    );
  await timed(200, noop);
  const noopMs = await timed(QUERIES, noop);

  // Browse: the first page and pages deeper in, by cursor.
  const browse = async (i: number) => {
    let pageToken = "";
    const depth = i % 4;
    for (let d = 0; d <= depth; d++) {
      const res = await unaryCall(client.searchProducts.bind(client), { catalogId: bigCatalog, query: "", categories: i % 3 === 0 ? [CATEGORY[i % CATEGORY.length]!] : [], minPriceMinor: "0", maxPriceMinor: "0", availability: [], page: { pageSize: 20, pageToken } }, { token: shopper });
      pageToken = res.page?.nextPageToken ?? "";
    }
  };
  const listOne = async (i: number) => {
    // One page at the depth `browse` reached: measure each page request alone.
    void i;
    await unaryCall(client.searchProducts.bind(client), { catalogId: bigCatalog, query: "", categories: i % 3 === 0 ? [CATEGORY[i % CATEGORY.length]!] : [], minPriceMinor: "0", maxPriceMinor: "0", availability: [], page: { pageSize: 20, pageToken: "" } }, { token: shopper });
  };
  await timed(100, browse);
  const listMs = await timed(QUERIES, listOne);
  const deepMs = await timed(Math.floor(QUERIES / 4), browse);

  // Search: one or two words, some misspelt, some without accents.
  const qr = rng(7);
  const typo = (w: string) => (w.length > 4 ? w.slice(0, 2) + w[2] + w.slice(2) : w);
  const queries = Array.from({ length: QUERIES + 100 }, (_, i) => {
    const a = pick(qr, MATERIAL);
    const b = pick(qr, NOUN);
    switch (i % 4) {
      case 0:
        return b;
      case 1:
        return `${a} ${b}`;
      case 2:
        return `${typo(a)} ${b}`;
      default:
        return `creme ${b}`;
    }
  });
  const search = (i: number) =>
    unaryCall(client.searchProducts.bind(client), { catalogId: bigCatalog, query: queries[i]!, categories: [], minPriceMinor: "0", maxPriceMinor: "0", availability: [], page: { pageSize: 20, pageToken: "" } }, { token: shopper });
  let empty = 0;
  await timed(100, (i) => search(QUERIES + i));
  const searchMs = await timed(QUERIES, async (i) => {
    const res = await search(i);
    if (res.products.length === 0) empty++;
  });

  // Oversell: 200 concurrent chat orders for the last 50 units of one SKU.
  const raceCatalog = (await unaryCall(client.createCatalog.bind(client), { businessId: BIZ, name: `Race ${Date.now()}` }, { token: owner })).catalog!.id;
  await bulk(client, owner, raceCatalog, [ProductInput.fromPartial({ retailerId: "LAST50", name: "Last fifty", price: { amountMinor: "1000", currency: "EUR" }, inventory: "50" })]);
  const racers = await Promise.all(Array.from({ length: 200 }, (_, i) => signer.sign({ kind: "customer", customerId: `c_race_${Date.now()}_${i}` })));
  const race = await Promise.allSettled(racers.map((token) => unaryCall(client.createChatOrder.bind(client), { customerId: "", catalogId: raceCatalog, text: "", items: [{ productRetailerId: "LAST50", quantity: 1, itemPrice: undefined }] }, { token })));
  const sold = race.filter((o) => o.status === "fulfilled").length;
  const outOfStock = race.filter((o) => o.status === "rejected" && (o.reason as ServiceError).code === status.FAILED_PRECONDITION && errorDetail(o.reason as ServiceError)?.reason === "OUT_OF_STOCK").length;
  const { rows: stock } = await bench.pool.query<{ inventory: string; reserved: string }>(`SELECT inventory::text, reserved::text FROM ${SCHEMA}.product WHERE catalog_id = $1`, [raceCatalog]);

  // Checkouts: 64 customers, each adds one unit to its cart and checks out, in a loop.
  const checkoutCatalog = (await unaryCall(client.createCatalog.bind(client), { businessId: BIZ, name: `Checkout ${Date.now()}` }, { token: owner })).catalog!.id;
  const skus = Array.from({ length: CONCURRENCY }, (_, i) => ProductInput.fromPartial({ retailerId: `CO-${i}`, name: `Checkout item ${i}`, price: { amountMinor: "1500", currency: "EUR" }, inventory: "100000000" }));
  skus.push(ProductInput.fromPartial({ retailerId: "HOT", name: "Hot item", price: { amountMinor: "1500", currency: "EUR" }, inventory: "100000000" }));
  await bulk(client, owner, checkoutCatalog, skus);
  const buyers = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => signer.sign({ kind: "customer", customerId: `c_buyer_${Date.now()}_${i}` }, { expiresIn: "2h" })));
  const checkoutLoop = (sku: (w: number) => string) => async (w: number) => {
    await unaryCall(client.addCartItem.bind(client), { customerId: "", catalogId: checkoutCatalog, productRetailerId: sku(w), quantity: 1 }, { token: buyers[w]! });
    await unaryCall(client.checkout.bind(client), { customerId: "", businessId: BIZ, note: "", deliveryAddress: undefined, expectedTotal: undefined }, { token: buyers[w]! });
  };
  // Orders per commit in a phase: every order of a batch carries its transaction's clock.
  const dbNow = async () => (await bench.pool.query<{ t: Date }>("SELECT clock_timestamp() AS t")).rows[0]!.t;
  const perCommit = async (from: Date, to: Date) => {
    const { rows } = await bench.pool.query<{ n: string; commits: string }>(`SELECT count(*) AS n, count(DISTINCT created_at) AS commits FROM ${SCHEMA}.customer_order WHERE catalog_id = $1 AND created_at BETWEEN $2 AND $3`, [checkoutCatalog, from, to]);
    return Math.round((Number(rows[0]!.n) / Math.max(1, Number(rows[0]!.commits))) * 10) / 10;
  };
  let t0 = await dbNow();
  const checkouts = await throughput(CONCURRENCY, PHASE_MS, server.pid, checkoutLoop((w) => `CO-${w}`));
  const checkoutsPerCommit = await perCommit(t0, await dbNow());
  // The cart half of a checkout alone: each customer sets its item's quantity, 1, 2, 1, … (one cart transaction per call).
  const flips = new Array<number>(CONCURRENCY).fill(0);
  const cartChanges = await throughput(CONCURRENCY, Math.ceil(PHASE_MS / 2), server.pid, async (w) => {
    await unaryCall(client.setCartItemQuantity.bind(client), { customerId: "", catalogId: checkoutCatalog, productRetailerId: `CO-${w}`, quantity: 1 + (flips[w]!++ % 2) }, { token: buyers[w]! });
  });
  // Empty the carts again for the next phase.
  await Promise.all(buyers.map((token, w) => unaryCall(client.removeCartItem.bind(client), { customerId: "", catalogId: checkoutCatalog, productRetailerId: `CO-${w}` }, { token })));
  t0 = await dbNow();
  const hot = await throughput(CONCURRENCY, PHASE_MS, server.pid, checkoutLoop(() => "HOT"));
  const hotPerCommit = await perCommit(t0, await dbNow());
  t0 = await dbNow();
  // The chat order path (one RPC, no cart) on the same hot SKU.
  const hotChat = await throughput(CONCURRENCY, PHASE_MS, server.pid, async (w) => {
    await unaryCall(client.createChatOrder.bind(client), { customerId: "", catalogId: checkoutCatalog, text: "", items: [{ productRetailerId: "HOT", quantity: 1, itemPrice: undefined }] }, { token: buyers[w]! });
  });

  const hotChatPerCommit = await perCommit(t0, await dbNow());

  // The limits, in the same run and with the same concurrency: a no-op gRPC
  // call (health check) against the service process, and one-row durable
  // commits on the same database through as many connections as the service has.
  const noopLimit = await throughput(CONCURRENCY, LIMIT_MS, server.pid, noop);
  client.close();
  await server.stop();
  const commitPool = createPool({ url: benchUrl, schema: "public", max: Number(serviceEnv.DB_POOL_MAX) });
  await commitPool.query("CREATE TABLE IF NOT EXISTS public.bench_commit (id bigserial PRIMARY KEY, payload text NOT NULL)");
  const commitLimit = await throughput(CONCURRENCY, LIMIT_MS, 0, async () => {
    await commitPool.query("INSERT INTO public.bench_commit (payload) VALUES ('x')");
  });
  await commitPool.query("TRUNCATE public.bench_commit");
  await commitPool.end();
  await bench.db.destroy();

  const noopP99 = percentile(noopMs, 99);
  const ratio = (x: number) => Math.round((x / Math.max(noopP99, 0.001)) * 10) / 10;
  const listP99 = percentile(listMs, 99);
  const searchP99 = percentile(searchMs, 99);
  reportBench("catalog", {
    bench: "catalog",
    metrics: {
      products: Number(counts[0]!.n),
      catalogs: Number(counts[0]!.catalogs),
      list_p50_ms: percentile(listMs, 50),
      list_p99_ms: listP99,
      list_p99_ratio: ratio(listP99),
      list_4_pages_p99_ms: percentile(deepMs, 99),
      search_p50_ms: percentile(searchMs, 50),
      search_p99_ms: searchP99,
      search_p99_ratio: ratio(searchP99),
      search_empty_ratio: Math.round((empty / QUERIES) * 1000) / 1000,
      oversell_stock: 50,
      oversell_sold: sold,
      oversell_out_of_stock: outOfStock,
      oversell_reserved: Number(stock[0]?.reserved ?? -1),
      checkouts_per_s: checkouts.perS,
      // A checkout is two RPCs (AddCartItem + Checkout): the gRPC limit allows half the no-op rate.
      checkouts_to_grpc_limit: Math.round((checkouts.perS / (noopLimit.perS / 2)) * 100) / 100,
      checkouts_to_commit_limit: Math.round((checkouts.perS / commitLimit.perS) * 100) / 100,
      // What the cores would allow at this CPU per checkout (service, its PostgreSQL backends and the load generator).
      checkouts_cpu_bound_per_s: Math.round((os.cpus().length * 1e6) / Math.max(1, checkouts.cpu.own!)),
      cart_changes_per_s: cartChanges.perS,
      hot_sku_checkouts_per_s: hot.perS,
      hot_sku_chat_orders_per_s: hotChat.perS,
      hot_sku_chat_orders_to_commit_limit: Math.round((hotChat.perS / commitLimit.perS) * 100) / 100,
      checkouts_per_commit: checkoutsPerCommit,
      hot_sku_checkouts_per_commit: hotPerCommit,
      hot_sku_chat_orders_per_commit: hotChatPerCommit,
      seed_seconds: Math.round(seedSeconds),
      seed_reused: reused,
    },
    limits: { grpc_noop_p50_ms: percentile(noopMs, 50), grpc_noop_p99_ms: noopP99, grpc_noop_per_s: noopLimit.perS, pg_single_row_commits_per_s: commitLimit.perS },
    cpu_us_per_op: { checkout: checkouts.cpu, cart_change: cartChanges.cpu, hot_sku_checkout: hot.cpu, hot_sku_chat_order: hotChat.cpu, grpc_noop: noopLimit.cpu, pg_commit: commitLimit.cpu },
    env: { cpus: os.cpus().length, node: process.version, seconds: Math.round((Date.now() - started) / 1000) },
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`[bench:catalog] failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
