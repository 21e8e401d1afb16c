import { randomUUID } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type pg from "pg";
import type { NatsConnection } from "nats";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

export interface OutboxEvent {
  /** Dedupe key end to end: outbox row, Nats-Msg-Id, consumers' processed_events. */
  eventId: string;
  /** Unprefixed subject, kontor.<domain>.<entity>.<event>.v1. */
  subject: string;
  payload: Uint8Array;
}

export function newEventId(): string {
  return randomUUID();
}

function channelFor(schema: string): string {
  return `kontor_outbox_${schema}`;
}

/**
 * Writes events into the outbox inside the caller's transaction, so they
 * commit (or vanish) together with the state change. NOTIFY wakes the relay at commit.
 */
// any: the outbox table comes from the kit migrations, not the service's table types
export async function enqueue(trx: Kysely<any>, schema: string, events: OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await trx
    .withSchema(schema)
    .insertInto("outbox")
    .values(events.map((e) => ({ event_id: e.eventId, subject: e.subject, payload: Buffer.from(e.payload) })))
    .execute();
  await sql`SELECT pg_notify(${channelFor(schema)}, '')`.execute(trx);
}

export interface OutboxRelayOptions {
  // any: the relay only touches the kit's outbox table, whatever the service's table types
  db: Kysely<any>;
  pool: pg.Pool;
  schema: string;
  nc: NatsConnection;
  /** NATS subject prefix (tests, shared brokers). */
  prefix: string;
  log: Logger;
  metrics?: Metrics;
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (ms). */
  pollMs?: number;
  /** Test hook: runs after the batch is published and before it is deleted (crash simulation). */
  afterPublish?: (eventIds: string[]) => Promise<void>;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Publishes everything pending now; returns how many were published. */
  flush(): Promise<number>;
  /** Stops after the batch in flight; pending rows stay for the next start. */
  stop(): Promise<void>;
}

/**
 * Publishes outbox rows to JetStream with Nats-Msg-Id = event id, then deletes
 * them. A crash between publish and delete re-publishes on restart, and the
 * stream's duplicate window drops the copy: each event lands exactly once.
 * FOR UPDATE SKIP LOCKED lets several replicas relay side by side.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, pool, schema, nc, prefix, log } = options;
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollMs ?? 1000;
  const js = nc.jetstream();
  let running = false;
  let wake: (() => void) | undefined;
  let listener: pg.PoolClient | undefined;
  let loop: Promise<void> | undefined;
  let failures = 0;

  async function publishBatch(): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const rows = await trx
        .withSchema(schema)
        .selectFrom("outbox")
        .select(["id", "event_id", "subject", "payload"])
        .orderBy("id")
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      await Promise.all(
        rows.map((r: { event_id: string; subject: string; payload: Uint8Array }) =>
          js.publish(prefix + r.subject, r.payload, { msgID: r.event_id, timeout: 10_000 }),
        ),
      );
      if (options.afterPublish) await options.afterPublish(rows.map((r: { event_id: string }) => r.event_id));
      await trx
        .withSchema(schema)
        .deleteFrom("outbox")
        .where(
          "id",
          "in",
          rows.map((r: { id: string }) => r.id),
        )
        .execute();
      options.metrics?.outboxPublished.inc(rows.length);
      return rows.length;
    });
  }

  async function flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await publishBatch();
      total += n;
      if (n < batchSize) return total;
    }
  }

  async function run() {
    while (running) {
      try {
        await flush();
        failures = 0;
        if (options.metrics) {
          const { count } = await db.withSchema(schema).selectFrom("outbox").select((eb) => eb.fn.countAll<string>().as("count")).executeTakeFirstOrThrow();
          options.metrics.outboxBacklog.set(Number(count));
        }
      } catch (err) {
        failures++;
        log.warn({ err: { message: (err as Error).message }, failures }, "outbox relay pass failed, retrying");
      }
      if (!running) break;
      const delay = failures > 0 ? Math.min(5000, 100 * 2 ** failures) : pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
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
      try {
        listener = await pool.connect();
        listener.on("notification", () => wake?.());
        listener.on("error", () => undefined);
        await listener.query(`LISTEN ${channelFor(schema)}`);
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, "outbox LISTEN failed; relying on polling");
      }
      loop = run();
    },
    flush,
    async stop() {
      running = false;
      wake?.();
      await loop;
      if (listener) {
        try {
          await listener.query(`UNLISTEN ${channelFor(schema)}`);
        } catch {
          // the connection is going away anyway
        }
        listener.release();
        listener = undefined;
      }
    },
  };
}
