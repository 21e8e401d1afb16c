import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "nats";
import { sql, type Kysely } from "kysely";
import type pg from "pg";
import { StoredEventBatch } from "@kontor/proto/messaging/v1/live";
import type { Logger } from "@kontor/service-kit/log";
import type { OutboxEvent } from "@kontor/service-kit/outbox";

/**
 * The messaging event outbox. Same contract as the kit's outbox (written in
 * the state change's transaction, published with Nats-Msg-Id = event id, so
 * neither lost nor doubled), built for the send path's volume:
 * - one row per commit holds all of its events (one insert instead of one per message);
 * - the relay publishes with a plain publish + reply subject and counts the
 *   JetStream acks itself, which costs a fraction of js.publish() per event.
 */
export const eventChannel = (schema: string) => `kontor_msg_events_${schema}`;

export function encodeEvents(events: OutboxEvent[]): Buffer {
  return Buffer.from(StoredEventBatch.encode({ events: events.map((e) => ({ eventId: e.eventId, subject: e.subject, payload: Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength) })) }).finish());
}

/** Low-volume writers (receipts, failures): one row in the caller's transaction. */
// any: the event_batch table is the kit-style outbox, not part of the service's table types
export async function enqueueEvents(trx: Kysely<any>, schema: string, events: OutboxEvent[]): Promise<void> {
  // any: event_batch is typed in MessagingDatabase, but this helper takes any Kysely bound to the schema
  if (events.length === 0) return;
  await sql`INSERT INTO event_batch (payload) VALUES (${encodeEvents(events)})`.execute(trx);
  await sql`SELECT pg_notify(${eventChannel(schema)}, '')`.execute(trx);
}

interface Waiter {
  remaining: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const ERROR_KEY = Buffer.from('"error"');
const HEADER_START = "NATS/1.0\r\nNats-Msg-Id: ";

/**
 * The Nats-Msg-Id header block as nats.js would encode it (headers().set(…).encode()),
 * built directly: publish() only calls encode() on the headers it is given.
 * Event ids are ours (message id + suffix) and carry no CR/LF.
 */
export function msgIdHeader(eventId: string): MsgHdrs {
  const bytes = Buffer.from(`${HEADER_START}${eventId}\r\n\r\n`);
  // The duck type is all publish() uses; a full MsgHdrs per event is what this avoids.
  return { encode: () => bytes } as unknown as MsgHdrs;
}

export interface EventRelay {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const ROWS_PER_PASS = 8;
const BATCH_WAIT_MS = 5;
/** Events published per event-loop turn: the relay shares the loop with the send path. */
const CHUNK = 256;
const ACK_TIMEOUT_MS = 10_000;

export function createEventRelay(options: { pool: pg.Pool; nc: NatsConnection; prefix: string; schema: string; log: Logger; pollMs?: number }): EventRelay {
  const { pool, nc, prefix, schema, log } = options;
  const pollMs = options.pollMs ?? 500;
  const inbox = createInbox();
  const waiting = new Map<number, Waiter>();
  let next = 0;
  let ackSub: Subscription | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let pendingWake = false;
  let listener: pg.PoolClient | undefined;

  async function publishAll(events: { eventId: string; subject: string; payload: Uint8Array }[]): Promise<void> {
    if (events.length === 0) return;
    // One waiter per row, counted down by the acks of its events (no promise per event).
    let waiter!: Waiter;
    const done = new Promise<void>((resolve, reject) => {
      waiter = { remaining: events.length, resolve, reject };
    });
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && i % CHUNK === 0) await new Promise((r) => setImmediate(r));
      const e = events[i]!;
      const n = next++;
      waiting.set(n, waiter);
      nc.publish(prefix + e.subject, e.payload, { reply: `${inbox}.${n}`, headers: msgIdHeader(e.eventId) });
    }
    const timer = setTimeout(() => {
      for (const [n, w] of waiting) {
        if (w !== waiter) continue;
        waiting.delete(n);
      }
      waiter.reject(new Error("JetStream ack timeout"));
    }, ACK_TIMEOUT_MS);
    return done.then(
      () => clearTimeout(timer),
      (err: unknown) => {
        clearTimeout(timer);
        throw err;
      },
    );
  }

  async function pass(): Promise<number> {
    const client = await pool.connect();
    let broken = false;
    try {
      // No fsync wait for the relay's own bookkeeping: a DELETE lost in a crash only
      // re-publishes events the stream's duplicate window (and consumers) drop.
      await client.query("BEGIN; SET LOCAL synchronous_commit = off");
      const rows = await client.query<{ id: string; payload: Buffer }>(`SELECT id, payload FROM event_batch ORDER BY id LIMIT ${ROWS_PER_PASS} FOR UPDATE SKIP LOCKED`);
      if (rows.rows.length === 0) {
        await client.query("COMMIT");
        return 0;
      }
      for (const r of rows.rows) await publishAll(StoredEventBatch.decode(r.payload).events);
      await client.query("DELETE FROM event_batch WHERE id = ANY($1::bigint[])", [rows.rows.map((r) => r.id)]);
      await client.query("COMMIT");
      return rows.rows.length;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (running) {
      try {
        pendingWake = false;
        while (running && (await pass()) === ROWS_PER_PASS);
        failures = 0;
      } catch (err) {
        failures++;
        log.warn({ err: { message: (err as Error).message }, failures }, "event relay pass failed, retrying");
      }
      if (!running) break;
      if (pendingWake && failures === 0) {
        // Let a few commits accumulate: fewer, larger relay passes.
        await new Promise((r) => setTimeout(r, BATCH_WAIT_MS));
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures > 0 ? Math.min(5000, 100 * 2 ** failures) : pollMs);
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
      running = true;
      ackSub = nc.subscribe(`${inbox}.*`, {
        callback: (err, msg) => {
          if (err) return;
          const n = Number(msg.subject.slice(inbox.length + 1));
          const w = waiting.get(n);
          if (!w) return;
          waiting.delete(n);
          // A PubAck is {"stream":…,"seq":…}; failures carry "error" (or come as a no-responders status, without data).
          const data = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
          if (data.length === 0 || data.includes(ERROR_KEY)) {
            const text = data.toString();
            w.reject(new Error(`JetStream refused the event: ${text || msg.headers?.description}`));
          } else if (--w.remaining === 0) w.resolve();
        },
      });
      try {
        listener = await pool.connect();
        listener.on("notification", () => {
          pendingWake = true;
          wake?.();
        });
        listener.on("error", () => undefined);
        await listener.query(`LISTEN ${eventChannel(schema)}`);
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, "event outbox LISTEN failed; polling");
      }
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      ackSub?.unsubscribe();
      if (listener) {
        await listener.query(`UNLISTEN ${eventChannel(schema)}`).catch(() => undefined);
        listener.release();
        listener = undefined;
      }
    },
  };
}
