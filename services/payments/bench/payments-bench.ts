/**
 * npm run bench:payments
 *
 * Starts the real payments service in its own process on a fresh database
 * (kontor_bench_payments), seeds BENCH_ACCOUNTS customer wallets (default
 * 10,000) with a PIN each, and measures over gRPC:
 *
 * - p2p: SendMoney (PIN checked, group commit) between random wallets from
 *   BENCH_CLIENTS concurrent clients (default 64) for BENCH_SECONDS;
 * - hot: BENCH_HOT_PAYERS customers (default 1,000) confirming a payment
 *   intent to one business at once, BENCH_HOT_ROUNDS times;
 * - limits: single-row durable commits per second on as many connections
 *   as the service's pool, from the same number of clients.
 *
 * Then checks that money was conserved (each currency sums to zero, the
 * journal replays to the balances). Prints one JSON line and writes
 * bench-results/payments.json.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { PaymentsServiceClient } from "@kontor/proto/payments/v1/payments_service";
import { createTokenSigner, generateSigningKeys } from "@kontor/service-kit/auth";
import { benchKnob, machineBusyUs, percentile, pidsNamed, processCpuUs, reportBench, sumProcessCpuUs, benchUrls, startBenchServer } from "@kontor/service-kit/bench";
import { unaryCall } from "@kontor/service-kit/grpc-client";
import { createPool } from "@kontor/service-kit/db";
import { connectNats, domainStream } from "@kontor/service-kit/nats";
import { hashPin } from "../src/domain/pin.js";

const ACCOUNTS = benchKnob("BENCH_ACCOUNTS", 10_000, 2);
const CLIENTS = benchKnob("BENCH_CLIENTS", 64);
const SECONDS = benchKnob("BENCH_SECONDS", 20);
const HOT_PAYERS = Math.min(benchKnob("BENCH_HOT_PAYERS", 1_000), ACCOUNTS);
const HOT_ROUNDS = benchKnob("BENCH_HOT_ROUNDS", 3);
const POOL = benchKnob("BENCH_DB_POOL", 16);
const LIMIT_SECONDS = benchKnob("BENCH_LIMIT_SECONDS", 8);
const PIN_COST = 10;
const PIN = "482916";
const DB_NAME = "kontor_bench_payments";
const SCHEMA = "payments";

const { adminUrl, natsUrl, benchUrl } = benchUrls(DB_NAME);
const prefix = `benchpay${randomBytes(3).toString("hex")}.`;

const log = (msg: string) => process.stderr.write(`[bench:payments] ${msg}\n`);


function startServer(env: Record<string, string>, mode = "payments") {
  // BENCH_SERVER_NODE_ARGS adds node flags to the service (e.g. --cpu-prof to see where its time goes).
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return startBenchServer<{ port: number }>(join(dirname(fileURLToPath(import.meta.url)), "server.ts"), env, { nodeArgs, args: [mode] });
}

/**
 * CPU of each party to a phase, from /proc: the load generator (this
 * process), the service, PostgreSQL (the backends of the bench database and
 * the WAL writer), nats-server, and the whole machine (others' work
 * included: the machine is shared). Divided by the operations done, they say
 * where each operation's cost is paid and so what rate this machine allows.
 */
interface CpuSnapshot {
  client: number;
  service: number;
  /** CPU so far of each PostgreSQL process serving the bench database (and the WAL writer), by pid. */
  postgres: Map<number, number>;
  nats: number;
  machine: number;
  wallUs: number;
}
let pgPool: ReturnType<typeof createPool>;
async function cpuSnapshot(servicePid: number): Promise<CpuSnapshot> {
  const pids = (await pgPool.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type = 'walwriter'", [DB_NAME])).rows.map((r) => r.pid);
  const own = process.cpuUsage();
  let service = 0;
  try {
    service = processCpuUs(servicePid);
  } catch {
    // exited
  }
  return {
    client: own.user + own.system,
    service,
    postgres: new Map(pids.map((pid) => [pid, sumProcessCpuUs([pid])])),
    nats: sumProcessCpuUs(pidsNamed(["nats-server"]).get("nats-server")!),
    machine: machineBusyUs(),
    wallUs: performance.now() * 1000,
  };
}
type CpuDelta = Omit<CpuSnapshot, "postgres"> & { postgres: number };
/** The CPU each party spent between two snapshots; a backend that was not there at the start started since. */
function cpuDelta(from: CpuSnapshot, to: CpuSnapshot): CpuDelta {
  let postgres = 0;
  for (const [pid, us] of to.postgres) postgres += us - (from.postgres.get(pid) ?? 0);
  return { client: to.client - from.client, service: to.service - from.service, postgres, nats: to.nats - from.nats, machine: to.machine - from.machine, wallUs: to.wallUs - from.wallUs };
}
function addDelta(a: CpuDelta, b: CpuDelta): CpuDelta {
  return { client: a.client + b.client, service: a.service + b.service, postgres: a.postgres + b.postgres, nats: a.nats + b.nats, machine: a.machine + b.machine, wallUs: a.wallUs + b.wallUs };
}
const noCpu: CpuDelta = { client: 0, service: 0, postgres: 0, nats: 0, machine: 0, wallUs: 0 };
/** µs of CPU per operation by party, and how many of the cores the whole machine had busy meanwhile (others' work included). */
function perOp(d: CpuDelta, ops: number) {
  const per = (us: number) => Math.round(us / Math.max(1, ops));
  const parties = d.service + d.postgres + d.nats + d.client;
  return {
    service_us: per(d.service),
    postgres_us: per(d.postgres),
    nats_us: per(d.nats),
    client_us: per(d.client),
    parties_us: per(parties),
    machine_us: per(d.machine),
    machine_cores_busy: Math.round((d.machine / Math.max(1, d.wallUs)) * 100) / 100,
    /** What this machine's cores allow at this cost per operation, were they all ours. */
    bound_per_s: Math.round((os.cpus().length * 1e6) / Math.max(1, parties / Math.max(1, ops))),
  };
}
async function cpuPerOp(from: CpuSnapshot, servicePid: number, ops: number) {
  return perOp(cpuDelta(from, await cpuSnapshot(servicePid)), ops);
}

/** Durable single-row commits per second: one INSERT per transaction, POOL connections, CLIENTS clients. */
let commitCount = 0;
async function singleRowCommits(pool: ReturnType<typeof createPool>): Promise<number> {
  const before = commitCount;
  await pool.query("CREATE TABLE IF NOT EXISTS bench_commit (id bigserial PRIMARY KEY, payload text NOT NULL)");
  const until = Date.now() + LIMIT_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < until) {
        await pool.query("INSERT INTO bench_commit (payload) VALUES ($1)", ["x"]);
        commitCount += 1;
      }
    }),
  );
  return Math.round((commitCount - before) / ((Date.now() - started) / 1000));
}

async function main(): Promise<void> {
  const admin = createPool({ url: adminUrl, schema: "public", max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DB_NAME}`);
  await admin.end();

  const keys = await generateSigningKeys("bench-payments");
  const signer = await createTokenSigner(keys.privateJwk);
  const server = await startServer({
    DATABASE_URL: benchUrl,
    NATS_URL: natsUrl,
    NATS_PREFIX: prefix,
    GRPC_HOST: "127.0.0.1",
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    AUTH_PUBLIC_KEYS: JSON.stringify([keys.publicJwk]),
    DB_POOL_MAX: String(POOL),
    PIN_SCRYPT_COST: String(PIN_COST),
    BANK_DATA_KEY: randomBytes(32).toString("base64"),
    SWEEP_INTERVAL_MS: "3600000",
  });
  const pool = createPool({ url: benchUrl, schema: SCHEMA, max: POOL, applicationName: "bench-payments" });
  pgPool = pool;
  const client = new PaymentsServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure(), { "grpc.max_concurrent_streams": 10_000 });
  try {
    log(`seeding ${ACCOUNTS} wallets with a PIN each`);
    const salt = randomBytes(16);
    const hash = await hashPin(PIN, salt, PIN_COST);
    const funding = 1_000_000n;
    await pool.query(`
      WITH clearing AS (
        INSERT INTO ledger_account (id, owner_kind, owner_id, kind, currency, allow_negative_balance, balance_minor)
        VALUES (gen_random_uuid(), 'system', 'bank_clearing.bench', 'bank_clearing', 'EUR', true, -${funding}::bigint * ${ACCOUNTS}) RETURNING id
      ), wallets AS (
        INSERT INTO ledger_account (id, owner_kind, owner_id, kind, currency, balance_minor)
        SELECT gen_random_uuid(), 'customer', 'bench_cus_' || i, 'customer_wallet', 'EUR', ${funding} FROM generate_series(0, ${ACCOUNTS - 1}) i RETURNING id
      ), transfers AS (
        INSERT INTO ledger_transfer (id, caller, idempotency_key, from_account_id, to_account_id, amount_minor, currency, reason)
        SELECT gen_random_uuid(), 'bench', 'seed:' || w.id, c.id, w.id, ${funding}, 'EUR', 'topup' FROM wallets w, clearing c RETURNING id, from_account_id, to_account_id
      ), entries AS (
        INSERT INTO ledger_entry (transfer_id, account_id, amount_minor, currency, balance_after_minor)
        SELECT id, to_account_id, ${funding}, 'EUR', ${funding} FROM transfers
        UNION ALL
        SELECT t.id, t.from_account_id, -${funding}, 'EUR', -${funding} * row_number() OVER (ORDER BY t.id) FROM transfers t
        RETURNING 1
      )
      SELECT count(*) FROM entries`);
    // The same number of business wallets: the ledger's transfer path without a PIN (businesses debit without one).
    await pool.query(`
      WITH wallets AS (
        INSERT INTO ledger_account (id, owner_kind, owner_id, kind, currency, balance_minor)
        SELECT gen_random_uuid(), 'business', 'bench_biz_' || i, 'business_wallet', 'EUR', ${funding} FROM generate_series(0, ${ACCOUNTS - 1}) i RETURNING id
      ), clearing AS (
        INSERT INTO ledger_account (id, owner_kind, owner_id, kind, currency, allow_negative_balance, balance_minor)
        VALUES (gen_random_uuid(), 'system', 'bank_clearing.bench_biz', 'bank_clearing', 'EUR', true, -${funding}::bigint * ${ACCOUNTS}) RETURNING id
      ), transfers AS (
        INSERT INTO ledger_transfer (id, caller, idempotency_key, from_account_id, to_account_id, amount_minor, currency, reason)
        SELECT gen_random_uuid(), 'bench', 'seed:' || w.id, c.id, w.id, ${funding}, 'EUR', 'topup' FROM wallets w, clearing c RETURNING id, from_account_id, to_account_id
      ), entries AS (
        INSERT INTO ledger_entry (transfer_id, account_id, amount_minor, currency, balance_after_minor)
        SELECT id, to_account_id, ${funding}, 'EUR', ${funding} FROM transfers
        UNION ALL
        SELECT t.id, t.from_account_id, -${funding}, 'EUR', -${funding}::bigint * row_number() OVER (ORDER BY t.id) FROM transfers t
        RETURNING 1
      )
      SELECT count(*) FROM entries`);
    const businessAccounts = (await pool.query<{ id: string; owner_id: string }>("SELECT id, owner_id FROM ledger_account WHERE owner_kind = 'business' AND owner_id LIKE 'bench_biz_%' ORDER BY owner_id")).rows;
    await pool.query("INSERT INTO payment_pin (customer_id, hash, salt, cost) SELECT 'bench_cus_' || i, $1, $2, $3 FROM generate_series(0, $4::int - 1) i", [hash, salt, PIN_COST, ACCOUNTS]);

    const tokens = new Map<string, string>();
    const tokenOf = async (customerId: string) => {
      let t = tokens.get(customerId);
      if (!t) {
        t = await signer.sign({ kind: "customer", customerId }, { expiresIn: "2h" });
        tokens.set(customerId, t);
      }
      return t;
    };
    for (let i = 0; i < ACCOUNTS; i++) await tokenOf(`bench_cus_${i}`);

    log(`limit: single-row commits, ${CLIENTS} clients on ${POOL} connections, ${LIMIT_SECONDS} s`);
    const commitCpu0 = await cpuSnapshot(server.pid);
    const commits0 = commitCount;
    const commitsPerS = await singleRowCommits(pool);
    const commitCpu = await cpuPerOp(commitCpu0, server.pid, commitCount - commits0);

    log(`limit: no-op SendMoney over gRPC, ${CLIENTS} clients, ${LIMIT_SECONDS} s`);
    const noop = await startServer({ PATH: process.env.PATH ?? "" }, "noop");
    const noopClient = new PaymentsServiceClient(`127.0.0.1:${noop.port}`, credentials.createInsecure(), { "grpc.max_concurrent_streams": 10_000 });
    let noopDone = 0;
    let noopCpu: Awaited<ReturnType<typeof cpuPerOp>>;
    let noopPerS: number;
    try {
      const noopCall = (n: number) =>
        unaryCall(
          noopClient.sendMoney.bind(noopClient),
          { idempotencyKey: `noop:${n}`, fromCustomerId: "bench_cus_0", toCustomerId: "bench_cus_1", amount: { amountMinor: "1", currency: "EUR" }, note: "", pin: PIN, toNumber: "" },
          { token: tokens.get("bench_cus_0")! },
        );
      await Promise.all(Array.from({ length: CLIENTS }, (_, c) => noopCall(c)));
      const noop0 = await cpuSnapshot(noop.pid);
      const noopUntil = Date.now() + LIMIT_SECONDS * 1000;
      const noopStart = Date.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (Date.now() < noopUntil) {
            await noopCall(noopDone);
            noopDone += 1;
          }
        }),
      );
      noopPerS = Math.round(noopDone / ((Date.now() - noopStart) / 1000));
      noopCpu = await cpuPerOp(noop0, noop.pid, noopDone);
    } finally {
      noopClient.close();
      await noop.stop();
    }

    const send = (from: number, to: number, n: number) =>
      unaryCall(
        client.sendMoney.bind(client),
        { idempotencyKey: `p2p:${from}:${n}`, fromCustomerId: `bench_cus_${from}`, toCustomerId: `bench_cus_${to}`, amount: { amountMinor: String(1 + (n % 100)), currency: "EUR" }, note: "", pin: PIN, toNumber: "" },
        { token: tokens.get(`bench_cus_${from}`)! },
      );
    // Warm-up: the service's caches, JIT and connections.
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => send(c, (c + 1) % ACCOUNTS, 1_000_000_000 + c)));

    log(`p2p: ${CLIENTS} clients, ${SECONDS} s`);
    const p2pCpu0 = await cpuSnapshot(server.pid);
    const latencies: number[] = [];
    let failures = 0;
    let seq = 0;
    const until = Date.now() + SECONDS * 1000;
    const p2pStart = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < until) {
          const n = seq++;
          const from = Math.floor(Math.random() * ACCOUNTS);
          let to = Math.floor(Math.random() * ACCOUNTS);
          if (to === from) to = (to + 1) % ACCOUNTS;
          const t0 = performance.now();
          try {
            await send(from, to, n);
            latencies.push(performance.now() - t0);
          } catch {
            failures += 1;
          }
        }
      }),
    );
    const p2pSeconds = (Date.now() - p2pStart) / 1000;
    const p2pCpu = await cpuPerOp(p2pCpu0, server.pid, latencies.length);
    latencies.sort((a, b) => a - b);
    const commits = await pool.query<{ n: string; t: string }>("SELECT count(DISTINCT created_at)::text AS n, count(*)::text AS t FROM ledger_transfer WHERE reason = 'p2p'");

    log(`ledger: PostTransfer between ${ACCOUNTS} business wallets (no PIN), ${CLIENTS} clients, ${SECONDS} s`);
    const bizTokens = await Promise.all(businessAccounts.map((b) => signer.sign({ kind: "business", businessId: b.owner_id }, { expiresIn: "2h" })));
    const ledgerLatencies: number[] = [];
    const ledgerCpu0 = await cpuSnapshot(server.pid);
    let ledgerSeq = 0;
    const ledgerUntil = Date.now() + SECONDS * 1000;
    const ledgerStart = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < ledgerUntil) {
          const n = ledgerSeq++;
          const from = Math.floor(Math.random() * ACCOUNTS);
          let to = Math.floor(Math.random() * ACCOUNTS);
          if (to === from) to = (to + 1) % ACCOUNTS;
          const t0 = performance.now();
          await unaryCall(
            client.postTransfer.bind(client),
            { idempotencyKey: `biz:${n}`, fromAccountId: businessAccounts[from]!.id, toAccountId: businessAccounts[to]!.id, amount: { amountMinor: String(1 + (n % 100)), currency: "EUR" }, note: "", pin: "" },
            { token: bizTokens[from]! },
          ).then(
            () => ledgerLatencies.push(performance.now() - t0),
            () => (failures += 1),
          );
        }
      }),
    );
    const ledgerSeconds = (Date.now() - ledgerStart) / 1000;
    const ledgerCpu = await cpuPerOp(ledgerCpu0, server.pid, ledgerLatencies.length);
    ledgerLatencies.sort((a, b) => a - b);
    const ledgerCommits = await pool.query<{ n: string; t: string }>("SELECT count(DISTINCT created_at)::text AS n, count(*)::text AS t FROM ledger_transfer WHERE reason = 'transfer' AND caller LIKE 'business:%'");

    log(`hot: ${HOT_PAYERS} customers paying one business at once, ${HOT_ROUNDS} rounds`);
    const businessToken = await signer.sign({ kind: "business", businessId: "bench_hot_business" }, { expiresIn: "2h" });
    const hotLatencies: number[] = [];
    let hotDone = 0;
    let hotFailed = 0;
    let hotMs = 0;
    let hotCpuUs = noCpu;
    for (let round = 0; round < HOT_ROUNDS; round++) {
      const intents = await Promise.all(
        Array.from({ length: HOT_PAYERS }, async (_, i) => {
          const res = await unaryCall(
            client.createPaymentIntent.bind(client),
            { idempotencyKey: `pi:${round}:${i}`, orderId: `ord_${round}_${i}`, businessId: "bench_hot_business", customerId: `bench_cus_${i}`, amount: { amountMinor: "1999", currency: "EUR" } },
            { token: businessToken, timeoutMs: 120_000 },
          );
          return res.payment!.id;
        }),
      );
      const t0 = performance.now();
      const c0 = await cpuSnapshot(server.pid);
      await Promise.all(
        intents.map(async (paymentId, i) => {
          const s = performance.now();
          // All are sent at once, so the last waits for the whole queue: a generous deadline, and a failure counts.
          const res = await unaryCall(client.confirmPaymentIntent.bind(client), { idempotencyKey: `c:${round}:${i}`, paymentId, pin: PIN }, { token: tokens.get(`bench_cus_${i}`)!, timeoutMs: 120_000 }).catch(() => undefined);
          if (res?.payment?.state === 2) {
            hotDone += 1;
            hotLatencies.push(performance.now() - s);
          } else hotFailed += 1;
        }),
      );
      hotMs += performance.now() - t0;
      hotCpuUs = addDelta(hotCpuUs, cpuDelta(c0, await cpuSnapshot(server.pid)));
    }
    const hotCpu = perOp(hotCpuUs, hotDone);
    hotLatencies.sort((a, b) => a - b);
    const hotCommits = await pool.query<{ n: string }>("SELECT count(DISTINCT created_at)::text AS n FROM ledger_transfer WHERE reason = 'capture'");

    const sums = await pool.query<{ currency: string; total: string }>("SELECT currency, sum(balance_minor)::text AS total FROM ledger_account GROUP BY currency");
    const replay = await pool.query(`
      SELECT a.id FROM ledger_account a LEFT JOIN (SELECT account_id, sum(amount_minor) AS s FROM ledger_entry GROUP BY account_id) e ON e.account_id = a.id
      WHERE coalesce(e.s, 0) <> a.balance_minor LIMIT 1`);
    const conserved = sums.rows.every((r) => r.total === "0") && replay.rowCount === 0;

    const transfersPerS = Math.round(latencies.length / p2pSeconds);
    const hotPerS = Math.round(hotDone / (hotMs / 1000));
    reportBench("payments", {
      bench: "payments",
      metrics: {
        transfers_per_s: transfersPerS,
        p99_ms: percentile(latencies, 99),
        p50_ms: percentile(latencies, 50),
        p2p_failed: failures,
        transfers_per_commit: Math.round((Number(commits.rows[0]!.t) / Math.max(1, Number(commits.rows[0]!.n))) * 10) / 10,
        ledger_transfers_per_s: Math.round(ledgerLatencies.length / ledgerSeconds),
        ledger_p99_ms: percentile(ledgerLatencies, 99),
        ledger_transfers_per_commit: Math.round((Number(ledgerCommits.rows[0]!.t) / Math.max(1, Number(ledgerCommits.rows[0]!.n))) * 10) / 10,
        hot_transfers_per_s: hotPerS,
        hot_p99_ms: percentile(hotLatencies, 99),
        hot_failed: hotFailed,
        hot_payments_per_commit: Math.round((hotDone / Math.max(1, Number(hotCommits.rows[0]!.n))) * 10) / 10,
        conserved,
      },
      limits: { pg_single_row_commits_per_s: commitsPerS, grpc_noop_unary_per_s: noopPerS },
      cpu_per_op: { p2p: p2pCpu, ledger: ledgerCpu, hot: hotCpu, noop_unary: noopCpu, single_row_commit: commitCpu },
      ratios: {
        transfers_to_noop_unary: Math.round((transfersPerS / noopPerS) * 100) / 100,
        hot_to_noop_unary: Math.round((hotPerS / noopPerS) * 100) / 100,
        transfers_to_commit_limit: Math.round((transfersPerS / commitsPerS) * 100) / 100,
        ledger_to_commit_limit: Math.round((ledgerLatencies.length / ledgerSeconds / commitsPerS) * 100) / 100,
        hot_to_commit_limit: Math.round((hotPerS / commitsPerS) * 100) / 100,
      },
      env: { cpus: os.cpus().length, node: process.version, accounts: ACCOUNTS, clients: CLIENTS, seconds: SECONDS, db_pool: POOL, pin_scrypt_cost: PIN_COST },
    });
  } finally {
    client.close();
    await pool.end();
    await server.stop();
    const nc = await connectNats({ url: natsUrl, name: "bench-payments-cleanup" });
    const jsm = await nc.jetstreamManager();
    for (const domain of ["payments", "catalog"]) await jsm.streams.delete(domainStream(prefix, domain).name).catch(() => undefined);
    await nc.close();
    const admin2 = createPool({ url: adminUrl, schema: "public", max: 1 });
    await admin2.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`);
    await admin2.end();
  }
}

await main();
process.exit(0);
