import { createInbox, headers, type NatsConnection, type Subscription } from "nats";
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
export async function enqueueEvents(trx: Kysely<any>, schema: string, events: OutboxEvent[]): Promise<void> {
  // any: event_batch is typed in MessagingDatabase, but this helper takes any Kysely bound to the schema
  if (events.length === 0) return;
  await sql`INSERT INTO event_batch (payload) VALUES (${encodeEvents(events)})`.execute(trx);
  await sql`SELECT pg_notify(${eventChannel(schema)}, '')`.execute(trx);
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
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let next = 0;
  let ackSub: Subscription | undefined;
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let pendingWake = false;
  let listener: pg.PoolClient | undefined;

  async function publishAll(events: { eventId: string; subject: string; payload: Uint8Array }[]): Promise<void> {
    const acks: Promise<void>[] = [];
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && i % CHUNK === 0) await new Promise((r) => setImmediate(r));
      const e = events[i]!;
      const n = next++;
      const h = headers();
      h.set("Nats-Msg-Id", e.eventId);
      acks.push(new Promise<void>((resolve, reject) => waiting.set(n, { resolve, reject })));
      nc.publish(prefix + e.subject, e.payload, { reply: `${inbox}.${n}`, headers: h });
    }
    const timer = setTimeout(() => {
      for (const n of waiting.keys()) waiting.get(n)?.reject(new Error("JetStream ack timeout"));
      waiting.clear();
    }, ACK_TIMEOUT_MS);
    return Promise.all(acks).then(
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
          // A PubAck is {"stream":…,"seq":…}; failures carry "error" (or come as a no-responders status).
          const text = msg.data.length > 0 ? new TextDecoder().decode(msg.data) : "";
          if (text.includes('"error"') || msg.headers?.code === 503 || text === "") w.reject(new Error(`JetStream refused the event: ${text || msg.headers?.description}`));
          else w.resolve();
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
