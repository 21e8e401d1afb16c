import { randomUUID } from "node:crypto";
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "nats";
import { sql, type Kysely } from "kysely";
import type pg from "pg";
import { OutboxBatch } from "@kontor/proto/common/v1/outbox";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

export interface OutboxEvent {
  /** Dedupe key end to end: Nats-Msg-Id, consumers' processed_events. */
  eventId: string;
  /** Unprefixed subject, kontor.<domain>.<entity>.<event>.v1. */
  subject: string;
  payload: Uint8Array;
}

export function newEventId(): string {
  return randomUUID();
}

/**
 * The outbox table (kit migrations): one row per committed transaction, its
 * payload an OutboxBatch holding that transaction's events in order. Exported
 * for writers that insert the row in their own statement (messaging's send path).
 */
export const OUTBOX_TABLE = "outbox_batch";

/** The NOTIFY channel that wakes a schema's relay at commit. */
export function outboxChannel(schema: string): string {
  return `kontor_outbox_${schema}`;
}

const LINE_BREAK = /[\r\n]/;

/**
 * The bytes of one outbox row. An event id becomes a NATS header value, where
 * CR/LF would end the header block: such an id fails the writer's transaction
 * here rather than wedge the relay on a row it can never publish.
 */
export function encodeOutboxBatch(events: OutboxEvent[]): Buffer {
  const entries = events.map((e) => {
    if (LINE_BREAK.test(e.eventId)) throw new Error(`event id ${JSON.stringify(e.eventId)} holds a line break; it cannot be a Nats-Msg-Id`);
    // A Buffer view, not a copy: the generated type wants a Buffer, the bytes are the same.
    return { eventId: e.eventId, subject: e.subject, payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength) };
  });
  const bytes = OutboxBatch.encode({ events: entries }).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes the events into the outbox inside the caller's transaction, so they
 * commit (or vanish) together with the state change: one row for all of them,
 * and a NOTIFY that wakes the relay at commit, in one statement.
 */
// any: the outbox table comes from the kit migrations, not the service's table types
export async function enqueue(trx: Kysely<any>, schema: string, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sql`WITH r AS (INSERT INTO ${sql.id(schema, OUTBOX_TABLE)} (payload) VALUES (${encodeOutboxBatch(events)}))
    SELECT pg_notify(${outboxChannel(schema)}, '')`.execute(trx);
}

const HEADER_START = "NATS/1.0\r\nNats-Msg-Id: ";

/**
 * The Nats-Msg-Id header block as nats.js would encode it (headers().set(…).encode()),
 * built directly: publish() only calls encode() on the headers it is given, and
 * a full MsgHdrs per event is most of the cost of a publish. encodeOutboxBatch
 * keeps CR/LF out of event ids.
 */
export function msgIdHeader(eventId: string): MsgHdrs {
  const bytes = Buffer.from(`${HEADER_START}${eventId}\r\n\r\n`);
  // The duck type is all publish() uses.
  return { encode: () => bytes } as unknown as MsgHdrs;
}

export interface OutboxRelayOptions {
  /** The service's pool; its connections' search_path is the service schema. */
  pool: pg.Pool;
  schema: string;
  nc: NatsConnection;
  /** NATS subject prefix (tests, shared brokers). */
  prefix: string;
  log: Logger;
  metrics?: Metrics;
  /** Fallback poll when no NOTIFY arrives (ms). */
  pollMs?: number;
  /** Test hook: runs after all events of a row are acked and before the row is deleted (crash simulation). */
  afterPublish?: (eventIds: string[]) => Promise<void>;
  /** The table relayed, in the schema (default the kit's outbox_batch); same columns. */
  table?: string;
  /**
   * Handoff mode: the writer gives each committed row to handoff() at once, so
   * nothing waits for a NOTIFY and a pass that reads the row back. Passes
   * then take only rows older than this (a crashed writer's, a failed
   * handoff's, a row whose delete was lost), except after start and after a
   * failed publish, when they take every row until none is left: so rows
   * reach JetStream in commit order. No LISTEN.
   */
  handoffSettleMs?: number;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /**
   * Handoff mode: publishes a row just committed (its id and events), after
   * the rows handed over before it, and deletes it in a later batch. Not
   * waited for: a row not published (a failure, a stop) stays for the passes.
   */
  handoff(rowId: string, events: OutboxEvent[]): void;
  /** Publishes everything pending now; returns how many events were published. */
  flush(): Promise<number>;
  /** Stops after the pass in flight; pending rows stay for the next start. Safe to call twice. */
  stop(): Promise<void>;
}

/** Rows locked and published per transaction. */
const ROWS_PER_PASS = 8;
/** After a NOTIFY, wait this long so a few more commits land in the next pass. */
const BATCH_WAIT_MS = 5;
/** Publishes per event-loop turn: the relay shares the loop with the service's requests. */
const CHUNK = 256;
/** A row whose acks have not all come back by then is retried (a lost ack is only a re-publish). */
const ACK_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 5_000;
/** How often a relay that lost its LISTEN connection tries to open another. */
const RELISTEN_MS = 5_000;
/** The backlog gauge costs a count(*); take it at most this often. */
const BACKLOG_EVERY_MS = 1_000;
/** Handed-over rows published within this long are deleted in one statement. */
const DELETE_EVERY_MS = 20;
/** Rows (and their bytes) handed over and waiting while the table drains; past either they are left to the passes. */
const QUEUE_MAX = 10_000;
const QUEUE_MAX_BYTES = 64 * 1024 * 1024;
const DIGITS = /^\d+$/;

/** A PubAck is {"stream":…,"seq":…}; a refusal carries an "error" object. */
const ERROR_KEY = Buffer.from('"error":');

interface Waiter {
  remaining: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Publishes outbox rows to JetStream with Nats-Msg-Id = event id, then deletes
 * them. A crash between publish and delete re-publishes on restart, and the
 * stream's duplicate window drops the copy (consumers' processed_events catch
 * anything older): each event lands once.
 *
 * Built for messaging's send path, cheap enough for every service:
 * - one row per commit, so a pass locks and deletes few rows;
 * - a plain publish with a reply subject per event, the acks counted per row
 *   on one inbox subscription: a fraction of what js.publish() costs per event;
 * - rows in id order, each row's events in order, the next row only after
 *   every ack of the previous one: a relay publishes in the order rows were
 *   written, and a row that fails holds back the rows after it;
 * - FOR UPDATE SKIP LOCKED lets several replicas relay side by side.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { pool, schema, nc, prefix, log, metrics } = options;
  const pollMs = options.pollMs ?? 1000;
  const channel = outboxChannel(schema);
  const table = `${escapeId(schema)}.${escapeId(options.table ?? OUTBOX_TABLE)}`;
  const selectRows = `SELECT id, payload FROM ${table} ORDER BY id LIMIT ${ROWS_PER_PASS} FOR UPDATE SKIP LOCKED`;
  const settleMs = options.handoffSettleMs;
  const handoffMode = settleMs !== undefined;
  const selectSettled = `SELECT id, payload FROM ${table} WHERE created_at < now() - interval '${Math.round(settleMs ?? 0)} milliseconds' ORDER BY id LIMIT ${ROWS_PER_PASS} FOR UPDATE SKIP LOCKED`;
  // Handoff mode. `handing`: rows handed over go straight out; else they wait in `queue` (in
  // commit order) while passes drain the table, and go out once a pass found it drained,
  // skipping those the passes published meanwhile (`relayedByPasses`).
  let handing = false;
  let queue: { id: string; events: OutboxEvent[]; bytes: number }[] = [];
  let queuedBytes = 0;
  let dropped = 0; // times the queue overflowed: its rows are left to the passes
  const relayedByPasses = new Set<string>();
  let toDelete: string[] = [];
  let deleteTimer: NodeJS.Timeout | undefined;
  let deleting: Promise<void> = Promise.resolve();
  const deleteRows = `DELETE FROM ${table} WHERE id = ANY($1::bigint[])`;
  const countRows = `SELECT count(*)::int AS n FROM ${table}`;

  const inbox = createInbox();
  const waiting = new Map<number, Waiter>();
  let next = 0;
  let ackSub: Subscription | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let pendingWake = false;
  let failures = 0;
  let listener: pg.PoolClient | undefined;
  let backlogAt = 0;
  let listenAt = 0;
  let relisten: Promise<void> | undefined;
  // Passes run one at a time (the loop's and flush()'s), which keeps publish order = row order.
  let turn: Promise<unknown> = Promise.resolve();

  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = turn.then(fn);
    turn = result.catch(() => undefined);
    return result;
  }

  function onAck(err: Error | null, msg: Msg) {
    if (err) return;
    const n = Number(msg.subject.slice(inbox.length + 1));
    const w = waiting.get(n);
    if (!w) return; // late ack of a row that already timed out
    waiting.delete(n);
    const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    // No data at all is a status message: 503 no responders (no stream holds the subject).
    if (data.length === 0 || data.includes(ERROR_KEY)) {
      w.reject(new Error(`JetStream refused an event: ${data.length > 0 ? data.toString() : (msg.headers?.description ?? "no responders")}`));
    } else if (--w.remaining === 0) w.resolve();
  }

  function ensureAckSub(): void {
    ackSub ??= nc.subscribe(`${inbox}.*`, { callback: onAck });
  }

  /** Publishes one row's events; resolves when JetStream has stored every one. */
  async function publishRow(events: OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    ensureAckSub();
    // One waiter per row, counted down by its events' acks (no promise per event).
    let waiter!: Waiter;
    const done = new Promise<void>((resolve, reject) => {
      waiter = { remaining: events.length, resolve, reject };
    });
    const first = next;
    let timer: NodeJS.Timeout | undefined;
    try {
      for (let i = 0; i < events.length; i++) {
        if (i > 0 && i % CHUNK === 0) await new Promise((r) => setImmediate(r));
        const e = events[i]!;
        const n = next++;
        waiting.set(n, waiter);
        nc.publish(prefix + e.subject, e.payload, { reply: `${inbox}.${n}`, headers: msgIdHeader(e.eventId) });
      }
      timer = setTimeout(() => waiter.reject(new Error(`JetStream ack timeout after ${ACK_TIMEOUT_MS} ms`)), ACK_TIMEOUT_MS);
      await done;
    } finally {
      clearTimeout(timer);
      // After a refusal or a timeout, the row's other acks have nothing left to settle.
      for (let n = first; n < next; n++) waiting.delete(n);
    }
  }

  /** One transaction: lock up to ROWS_PER_PASS rows, publish them in order, delete those fully acked. */
  async function pass(): Promise<{ rows: number; events: number }> {
    const draining = handoffMode && !handing;
    const droppedBefore = dropped;
    const client = await pool.connect();
    let broken = false;
    // From before BEGIN: a BEGIN that half-failed is rolled back too (harmless when nothing is open).
    let open = true;
    try {
      // No fsync wait for the relay's own DELETE: a delete lost in a crash only
      // re-publishes events the stream's duplicate window (and consumers'
      // processed_events) drop, while a synchronous commit would cost one WAL
      // flush per pass on the busiest path, shared with the service's own commits.
      await client.query("BEGIN; SET LOCAL synchronous_commit = off");
      const { rows } = await client.query<{ id: string; payload: Buffer }>(handoffMode && !draining ? selectSettled : selectRows);
      const acked: string[] = [];
      let events = 0;
      let failure: unknown;
      for (const row of rows) {
        try {
          const batch = OutboxBatch.decode(row.payload).events;
          await publishRow(batch);
          if (options.afterPublish) await options.afterPublish(batch.map((e) => e.eventId));
          acked.push(row.id);
          if (draining) relayedByPasses.add(row.id);
          events += batch.length;
        } catch (err) {
          failure = err;
          break;
        }
      }
      // Rows acked before a failure are done: deleting them now keeps them from
      // being published again on every retry, possibly past the duplicate window.
      if (acked.length > 0) await client.query(deleteRows, [acked]);
      await client.query("COMMIT");
      open = false;
      metrics?.outboxPublished.inc(events);
      if (failure) throw failure;
      // Every row committed before this pass began is published: the queue (rows committed since,
      // in order) goes next, and rows handed over from now on go straight out.
      if (draining && rows.length < ROWS_PER_PASS && dropped === droppedBefore && running) {
        handing = true;
        await sendQueued();
      }
      return { rows: rows.length, events };
    } catch (err) {
      if (open) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  function deleteHandedOver(): Promise<void> {
    clearTimeout(deleteTimer);
    deleteTimer = undefined;
    const ids = toDelete;
    toDelete = [];
    if (ids.length === 0) return deleting;
    // Ids come from the table's bigserial; one simple-protocol round trip, no fsync wait (as in pass()).
    deleting = deleting.then(() =>
      pool
        .query(`BEGIN; SET LOCAL synchronous_commit = off; DELETE FROM ${table} WHERE id IN (${ids.join(",")}); COMMIT`)
        .then(
          () => undefined,
          (err: unknown) => log.warn({ err: { message: (err as Error).message }, rows: ids.length }, "outbox delete failed; the rows are published again after they settle"),
        ),
    );
    return deleting;
  }

  function handoff(rowId: string, events: OutboxEvent[]): void {
    if (!handoffMode) throw new Error("handoff() needs a relay created with handoffSettleMs");
    // Not running, or an id that is not the table's: the row waits for the passes.
    if (!running || !DIGITS.test(rowId)) return;
    let bytes = 0;
    for (const e of events) bytes += e.payload.length;
    if (queue.length >= QUEUE_MAX || queuedBytes + bytes > QUEUE_MAX_BYTES) {
      // Publishing has been failing for a while: leave these rows to the passes.
      queue = [];
      queuedBytes = 0;
      relayedByPasses.clear();
      dropped++;
    }
    queue.push({ id: rowId, events, bytes });
    queuedBytes += bytes;
    if (handing) void exclusive(sendQueued);
  }

  /** Publishes the queued rows in order (inside a turn); a failure hands the rest back to the passes. */
  async function sendQueued(): Promise<void> {
    let i = 0;
    try {
      for (; handing && i < queue.length; i++) {
        const { id, events } = queue[i]!;
        if (relayedByPasses.delete(id)) continue;
        await publishRow(events);
        if (options.afterPublish) await options.afterPublish(events.map((e) => e.eventId));
        metrics?.outboxPublished.inc(events.length);
        toDelete.push(id);
        deleteTimer ??= setTimeout(() => void deleteHandedOver(), DELETE_EVERY_MS);
      }
    } catch (err) {
      handing = false;
      log.warn({ err: { message: (err as Error).message } }, "outbox handoff failed; relaying from the table until it is drained");
      // The failed row is the passes' now (they retry it in order, or an operator removes it).
      i++;
      pendingWake = true;
      wake?.();
    } finally {
      for (let k = 0; k < i && k < queue.length; k++) queuedBytes -= queue[k]!.bytes;
      queue = queue.slice(i);
      if (queue.length === 0) {
        queuedBytes = 0;
        relayedByPasses.clear();
      }
    }
  }

  async function flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const { rows, events } = await exclusive(pass);
      total += events;
      if (rows < ROWS_PER_PASS) return total;
    }
  }

  async function measureBacklog(): Promise<void> {
    if (!metrics || Date.now() - backlogAt < BACKLOG_EVERY_MS) return;
    backlogAt = Date.now();
    try {
      const { rows } = await pool.query<{ n: number }>(countRows);
      metrics.outboxBacklog.set({ table: options.table ?? OUTBOX_TABLE }, rows[0]?.n ?? 0);
    } catch {
      // the next pass reports the database problem
    }
  }

  /** LISTEN on a dedicated connection; without it the relay still polls every pollMs. */
  async function listen(): Promise<void> {
    let client: pg.PoolClient | undefined;
    listenAt = Date.now();
    try {
      client = await pool.connect();
      client.on("notification", () => {
        pendingWake = true;
        // During a backoff, commits must not turn the retry delay into a busy loop.
        if (failures === 0) wake?.();
      });
      client.on("error", (err: Error) => {
        if (listener !== client) return;
        listener = undefined;
        log.warn({ err: { message: err.message } }, "outbox LISTEN connection lost; polling until it is back");
        client!.release(err);
      });
      await client.query(`LISTEN ${escapeId(channel)}`);
      if (!running) {
        client.release(true); // stop() came first
        return;
      }
      listener = client;
    } catch (err) {
      client?.release(err as Error);
      log.warn({ err: { message: (err as Error).message } }, "outbox LISTEN failed; polling");
    }
  }

  async function run(): Promise<void> {
    while (running) {
      pendingWake = false;
      try {
        while (running && (await exclusive(pass)).rows === ROWS_PER_PASS);
        failures = 0;
      } catch (err) {
        failures++;
        log.warn({ err: { message: (err as Error).message }, failures }, "outbox relay pass failed, retrying");
      }
      await measureBacklog();
      if (!running) break;
      // Not awaited: with the pool busy, connect() would hold up publishing.
      if (!handoffMode && !listener && !relisten && Date.now() - listenAt >= RELISTEN_MS) relisten = listen().finally(() => (relisten = undefined));
      if (pendingWake && failures === 0) {
        // Let a few commits accumulate: fewer, larger relay passes.
        await new Promise((r) => setTimeout(r, BATCH_WAIT_MS));
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures > 0 ? Math.min(MAX_BACKOFF_MS, 100 * 2 ** failures) : pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    async start() {
      if (running) return;
      running = true;
      ensureAckSub();
      if (!handoffMode) await listen();
      loop = run();
    },
    handoff,
    flush,
    async stop() {
      running = false;
      handing = false;
      wake?.();
      await loop;
      loop = undefined;
      await turn;
      await deleteHandedOver();
      await relisten;
      ackSub?.unsubscribe();
      ackSub = undefined;
      const client = listener;
      listener = undefined;
      // Closed rather than returned to the pool: it still LISTENs and carries our handlers.
      client?.release(true);
    },
  };
}

/** A quoted SQL identifier: schema names come from config. */
function escapeId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
