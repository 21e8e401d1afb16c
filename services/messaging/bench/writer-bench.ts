/**
 * PostgreSQL's CPU per group commit, the send writer alone: no gRPC, no NATS,
 * no service process. It answers what bench:messaging cannot separate: how
 * much of PostgreSQL's share is paid per commit (round trips, statement
 * start-up, the WAL flush) and how much per message (rows, index entries),
 * and what each of the message table's optional indexes costs. Batches are
 * written one after another on one connection, with the same shape as
 * bench:messaging (senders × recipients, business sends with status events).
 */
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { createTestEnv } from "@kontor/testkit/env";
import { benchKnob, pidsNamed, reportBench, sumProcessCpuUs } from "@kontor/service-kit/bench";
import { createDb, createPool, migrateToLatest } from "@kontor/service-kit/db";
import { migrations } from "../src/store/migrations/index.js";
import { createSendWriter, type SendItem, type Stored } from "../src/store/send-writer.js";
import { statusEvent } from "../src/events/outbox.js";
import { MessageStatus } from "@kontor/proto/messaging/v1/message";

const RECIPIENTS = benchKnob("BENCH_RECIPIENTS", 200);
const SENDERS = benchKnob("BENCH_SENDERS", 4);
/** Messages written per batch size and variant. */
const MESSAGES = benchKnob("BENCH_WRITER_MESSAGES", 40_000);
const SIZES = [10, 70, 140, 500, 2000];
const BODY_BYTES = 160; // a sealed short text: bench:messaging's body after AES-GCM and framing

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** CPU time of every postgres process in µs: backends, WAL writer, checkpointer. */
const postgresCpuUs = () => sumProcessCpuUs(pidsNamed(["postgres"]).get("postgres")!);

interface Row {
  batch: number;
  batches: number;
  pg_us_per_batch: number;
  pg_us_per_msg: number;
  /** This process's CPU: the writer's driver work and the status events' encoding, what the service pays. */
  writer_us_per_msg: number;
  wall_ms_per_batch: number;
}

interface PipelineSaving {
  batch: number;
  pg_us_per_commit: number;
  writer_us_per_commit: number;
  wall_ms_per_commit: number;
}

/** One run of batches: PostgreSQL's CPU and this process's (µs), wall time (ms). */
interface Sample {
  pg: number;
  own: number;
  wall: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * A database of its own with the schema and `prepare` applied (e.g. an index
 * dropped), the service's writer on a pipeline-mode pool and the same writer
 * on a plain pool, both warmed up (conversations and inbox rows exist, plans
 * are cached, as in a running service).
 */
async function withWriters<R>(prepare: string | undefined, fn: (b: { run: (pipelined: boolean, batches: number, size: number) => Promise<Sample> }) => Promise<R>): Promise<R> {
  const env = await createTestEnv();
  const { db, pool } = createDb<unknown>({ url: env.databaseUrl, schema: "messaging", max: 1 });
  const pipelinedPool = createPool({ url: env.databaseUrl, schema: "messaging", max: 1, pipeline: true });
  const plainPool = createPool({ url: env.databaseUrl, schema: "messaging", max: 1 });
  try {
    await migrateToLatest(db, "messaging", migrations);
    if (prepare) await pool.query(prepare);
    const trace = process.env.MESSAGING_TRACE_WRITER === "1";
    const writers = [createSendWriter(plainPool, "messaging", { trace }), createSendWriter(pipelinedPool, "messaging", { trace })] as const;
    const body = randomBytes(BODY_BYTES);
    let n = 0;
    const item = (): SendItem => {
      const s = n % SENDERS;
      const c = Math.floor(n / SENDERS) % RECIPIENTS;
      n++;
      return {
        id: `wamid.${randomBytes(15).toString("base64url")}`,
        senderKey: `b_pn${s}`,
        recipientKey: `c_cust${c}`,
        businessId: `biz${s}`,
        phoneNumberId: `pn${s}`,
        customerId: `cust${c}`,
        clientMessageId: `k${n}`,
        contentType: 1,
        keyId: 1,
        body,
        echo: false,
        policy: 0,
      };
    };
    // The SENT status event of every business send, as the service writes it.
    const events = (stored: { item: SendItem; stored: Stored }[]) =>
      stored.map(({ item: it, stored: s }) =>
        statusEvent({
          messageId: it.id,
          conversationId: s.conversationId,
          seq: s.seq,
          senderKey: it.senderKey,
          recipientKey: it.recipientKey,
          status: MessageStatus.MESSAGE_STATUS_SENT,
          errorCode: 0,
          businessId: it.businessId,
          phoneNumberId: it.phoneNumberId,
          customerId: it.customerId,
          bizOpaqueCallbackData: "",
          pricingCategory: "service",
          pricingType: "free_customer_service",
          pricingModel: "PMP",
          billable: false,
          customerE164: "+4915100000000",
          at: s.createdAt,
        }),
      );
    for (const w of writers) for (let i = 0; i < 5; i++) await w.write(Array.from({ length: 1000 }, item), events);
    const run = async (pipelined: boolean, batches: number, size: number): Promise<Sample> => {
      // Items are made beforehand, so this process's CPU is the writer's (and its events').
      const prepared = Array.from({ length: batches }, () => Array.from({ length: size }, item));
      const w = writers[pipelined ? 1 : 0];
      const cpu0 = postgresCpuUs();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      for (const batch of prepared) await w.write(batch, events);
      const wall = performance.now() - t0;
      const own = process.cpuUsage(own0);
      return { pg: postgresCpuUs() - cpu0, own: own.user + own.system, wall };
    };
    return await fn({ run });
  } finally {
    await pipelinedPool.end();
    await plainPool.end();
    await db.destroy();
    await env.cleanup();
  }
}

/** The service's writer at each batch size, in a database of its own. */
function measure(prepare: string | undefined, sizes: number[]): Promise<Row[]> {
  return withWriters(prepare, async ({ run }) => {
    const rows: Row[] = [];
    for (const size of sizes) {
      const batches = Math.max(20, Math.round(MESSAGES / size));
      const { pg, own, wall } = await run(true, batches, size);
      rows.push({
        batch: size,
        batches,
        pg_us_per_batch: Math.round(pg / batches),
        pg_us_per_msg: round1(pg / batches / size),
        writer_us_per_msg: round1(own / batches / size),
        wall_ms_per_batch: Math.round((wall / batches) * 100) / 100,
      });
    }
    return rows;
  });
}

/**
 * What pipelining saves per commit: the pipelined writer against the plain
 * one, alternating in 2 × 6 chunks in one database, medians (this machine's
 * speed drifts within seconds).
 */
function comparePipelining(sizes: number[]): Promise<PipelineSaving[]> {
  return withWriters(undefined, async ({ run }) => {
    const savings: PipelineSaving[] = [];
    for (const size of sizes) {
      const chunk = Math.max(20, Math.round(MESSAGES / size / 6));
      const piped: Sample[] = [];
      const plain: Sample[] = [];
      for (let r = 0; r < 6; r++) {
        piped.push(await run(true, chunk, size));
        plain.push(await run(false, chunk, size));
      }
      const saved = (k: keyof Sample) => (median(plain.map((x) => x[k])) - median(piped.map((x) => x[k]))) / chunk;
      savings.push({ batch: size, pg_us_per_commit: Math.round(saved("pg")), writer_us_per_commit: Math.round(saved("own")), wall_ms_per_commit: Math.round(saved("wall") * 100) / 100 });
    }
    return savings;
  });
}

async function main() {
  const base = await measure(undefined, SIZES);
  for (const r of base) log(`batch ${r.batch}: PostgreSQL ${r.pg_us_per_batch} µs per commit, ${r.pg_us_per_msg} µs per message; the writer's side ${r.writer_us_per_msg} µs per message`);
  // Per commit: where the line through the two smallest sizes meets zero messages. The slope
  // between the two largest is a message's cost once a batch shares its conversation and inbox
  // rows among many messages (each row is updated once per commit, whatever it carries).
  const at = (size: number) => base.find((r) => r.batch === size)!;
  const slope = (x: number, y: number) => (at(y).pg_us_per_batch - at(x).pg_us_per_batch) / (y - x);
  const perCommit = at(10).pg_us_per_batch - 10 * slope(10, 70);
  log(`per commit ~${Math.round(perCommit)} µs; per message ${round1(slope(10, 70))} µs in small batches, ${round1(slope(500, 2000))} µs in large ones`);

  // What an index costs per message: the same run without it (batches of 500). message_id_key is the
  // ON CONFLICT arbiter of retries and cannot go; the sender-side index is partial and business sends
  // write nothing to it, so its row shows this machine's noise.
  const variants: Record<string, string> = {
    without_message_inbox_idx: "DROP INDEX message_inbox_idx",
    without_message_pkey: "ALTER TABLE message DROP CONSTRAINT message_pkey",
    without_message_sender_inbox_idx_control: "DROP INDEX message_sender_inbox_idx",
  };
  // Each variant against a fresh database of its own with every index, measured the same way
  // (the table's size changes a row's cost, so the baseline run above, which grows it, is no reference).
  // What pipelining saves per commit: BEGIN sent with the upsert and COMMIT with the insert
  // (two round trips) against one statement per round trip (four), small batches, fresh databases.
  const pipelineSaving = await comparePipelining([10, 70]);
  for (const r of pipelineSaving) log(`pipelining at batch ${r.batch} saves PostgreSQL ${r.pg_us_per_commit} µs, the writer ${r.writer_us_per_commit} µs and ${r.wall_ms_per_commit} ms of wall time per commit`);

  const [full] = await measure(undefined, [500]);
  const at500 = full!.pg_us_per_msg;
  log(`every index: ${at500} µs per message at batch 500`);
  const indexCost: Record<string, number> = {};
  for (const [name, ddl] of Object.entries(variants)) {
    const [r] = await measure(ddl, [500]);
    indexCost[name] = round1(at500 - r!.pg_us_per_msg);
    log(`${name}: ${r!.pg_us_per_msg} µs per message at batch 500 (${indexCost[name]} µs less)`);
  }

  reportBench("messaging-writer", {
    bench: "messaging-writer",
    metrics: {
      pg_us_per_commit: Math.round(perCommit),
      pg_us_per_msg_small_batches: round1(slope(10, 70)),
      pg_us_per_msg_large_batches: round1(slope(500, 2000)),
      pg_us_per_msg_at_70: at(70).pg_us_per_msg,
      pg_us_per_msg_at_500: at(500).pg_us_per_msg,
      writer_us_per_msg_at_70: at(70).writer_us_per_msg,
      writer_us_per_msg_at_2000: at(2000).writer_us_per_msg,
      pipeline_saves_pg_us_per_commit_at_10: pipelineSaving[0]!.pg_us_per_commit,
      pipeline_saves_writer_us_per_commit_at_10: pipelineSaving[0]!.writer_us_per_commit,
      pipeline_saves_wall_ms_per_commit_at_10: pipelineSaving[0]!.wall_ms_per_commit,
    },
    extra: {
      by_batch: JSON.stringify(base),
      index_saving_us_per_msg: JSON.stringify(indexCost),
      pipeline_saving: JSON.stringify(pipelineSaving),
    },
    env: { cpus: cpus().length, node: process.version, recipients: RECIPIENTS, senders: SENDERS, messages_per_size: MESSAGES, body_bytes: BODY_BYTES },
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
