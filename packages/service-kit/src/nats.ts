import {
  connect,
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type NatsConnection,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type Consumer,
  type ConsumerMessages,
} from "nats";
import type { Kysely } from "kysely";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

export type { NatsConnection, JetStreamClient, JetStreamManager, JsMsg };

/** noEcho: the connection never receives its own publishes (a service delivering them locally anyway). */
export async function connectNats(options: { url: string; name: string; log?: Logger; noEcho?: boolean }): Promise<NatsConnection> {
  const nc = await connect({
    servers: options.url.split(","),
    name: options.name,
    noEcho: options.noEcho ?? false,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const log = options.log;
  if (log) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" || s.type === "error") log.warn({ nats: s.type }, "nats connection status");
        else if (s.type === "reconnect") log.info({ nats: s.type }, "nats reconnected");
      }
    })();
  }
  return nc;
}

/** The subject as seen on the wire: tests and shared brokers isolate with a prefix. */
export function prefixed(prefix: string, subject: string): string {
  return prefix + subject;
}

/** One stream per domain: KONTOR_<DOMAIN> holding kontor.<domain>.> (prefixed). */
export function domainStream(prefix: string, domain: string): { name: string; subjects: string[] } {
  const tag = prefix ? `${prefix.slice(0, -1).toUpperCase().replace(/[^A-Z0-9_-]/g, "_")}_` : "";
  return { name: `${tag}KONTOR_${domain.toUpperCase()}`, subjects: [`${prefix}kontor.${domain}.>`] };
}

/**
 * Creates the stream if it is missing. Producers and consumers both call it,
 * so start order between services does not matter. The 2-minute duplicate
 * window is what makes outbox re-publishes harmless.
 */
export async function ensureStream(jsm: JetStreamManager, stream: { name: string; subjects: string[] }, options: { maxAgeMs?: number } = {}): Promise<void> {
  try {
    await jsm.streams.info(stream.name);
    return;
  } catch {
    // missing: create below
  }
  try {
    await jsm.streams.add({
      name: stream.name,
      subjects: stream.subjects,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(options.maxAgeMs ?? 7 * 24 * 3600 * 1000),
      duplicate_window: nanos(120_000),
    });
  } catch (err) {
    // Another replica won the race.
    await jsm.streams.info(stream.name).catch(() => {
      throw err;
    });
  }
}

/** What a handler decides for one delivery. Throwing means "retry later" (nak with delay). */
export type Outcome = "ack" | "duplicate" | "term";

export interface ConsumerSpec<T> {
  /** Durable consumer name, unique per service and purpose ("messaging-directory-business"). */
  durable: string;
  stream: { name: string; subjects: string[] };
  /** One subject filter (NATS 2.9 takes one), wildcards allowed; already prefixed. */
  filterSubject: string;
  /** Parses the payload; a throw here is a poison message and is terminated. */
  decode(data: Uint8Array, subject: string): T;
  handle(event: T, msg: JsMsg): Promise<Outcome>;
  maxDeliver?: number;
  batch?: number;
  /**
   * Reads what the stream gathered every this many ms, in one burst, instead
   * of taking each event as it is stored. For consumers that may lag (a
   * count, a report): every delivery and ack is a wake-up of nats-server,
   * which costs it more than the bytes, so events that arrive one by one are
   * much cheaper read in bursts. Unset: each event as it comes.
   */
  pollMs?: number;
  /** Deletes the consumer on the server after this long without a client (consumers named per replica). */
  inactiveMs?: number;
  /**
   * Events handled at once (default 1: one after the other). A handler that
   * batches (returns when its batch commits) needs more in flight; each
   * event is still acked or naked alone.
   */
  inFlight?: number;
  /**
   * Start with the events stored at or after this instant instead of the
   * stream's first (a replica that loads the state at start needs only what
   * changed since shortly before).
   */
  startAt?: Date;
}

export interface RunningConsumer {
  stop(): Promise<void>;
}

/** What startConsumer reads deliveries from: the client's consume(), or polled() below. */
interface Deliveries extends AsyncIterable<JsMsg> {
  close(): Promise<void | Error>;
}

/**
 * A consumer read in bursts (ConsumerSpec.pollMs): every `pollMs`, one
 * fetch of what the consumer has pending (at most `batch`), which
 * nats-server sends in one go. With nothing pending the fetch waits for one
 * event, so a quiet stream costs a pull per event burst, not a poll per tick.
 */
function polled(consumer: Consumer, batch: number, pollMs: number, log: Logger, durable: string): Deliveries {
  let closed = false;
  let current: ConsumerMessages | undefined;
  let wake: (() => void) | undefined;
  // stop() ends the pause at once, and its timer with it (a pending timer would hold the process up to pollMs).
  const pause = () => new Promise<void>((r) => {
    const timer = setTimeout(r, pollMs);
    wake = () => {
      clearTimeout(timer);
      r();
    };
  });
  async function* run(): AsyncGenerator<JsMsg> {
    while (!closed) {
      let full = false;
      try {
        const info = await consumer.info(false);
        // What was stored since the last fetch; with none, what was delivered and not acked (a
        // nak'd event waits there for its redelivery, so a failed burst comes back as a burst,
        // not one a poll), asked for briefly; else the next event, waited for.
        const redeliveries = info.num_pending === 0 ? info.num_ack_pending : 0;
        const want = Math.min(batch, Math.max(1, info.num_pending, redeliveries));
        current = await consumer.fetch({ max_messages: want, expires: redeliveries > 0 ? 1000 : 30_000 });
        let got = 0;
        for await (const m of current) {
          got++;
          yield m;
        }
        // A full batch means more is waiting: read on at once, so a backlog drains at fetch speed.
        full = want === batch && got === batch;
      } catch (err) {
        if (!closed) log.warn({ consumer: durable, err: { message: (err as Error).message } }, "fetch failed, will retry");
      }
      current = undefined;
      if (!closed && !full) await pause();
    }
  }
  const iterator = run();
  return {
    [Symbol.asyncIterator]: () => iterator,
    async close() {
      closed = true;
      wake?.();
      await current?.close();
    },
  };
}

/**
 * A durable pull consumer that decides every message's fate explicitly:
 * poison → term, handled → ack, failure → nak with growing delay.
 */
export async function startConsumer<T>(nc: NatsConnection, spec: ConsumerSpec<T>, log: Logger, metrics?: Metrics): Promise<RunningConsumer> {
  const jsm = await nc.jetstreamManager();
  await ensureStream(jsm, spec.stream);
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    ...(spec.startAt ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: spec.startAt.toISOString() } : { deliver_policy: DeliverPolicy.All }),
    filter_subject: spec.filterSubject,
    max_deliver: spec.maxDeliver ?? 20,
    ack_wait: nanos(30_000),
    ...(spec.inactiveMs ? { inactive_threshold: nanos(spec.inactiveMs) } : {}),
  };
  try {
    await jsm.consumers.add(spec.stream.name, config);
  } catch {
    await jsm.consumers.update(spec.stream.name, spec.durable, { filter_subject: spec.filterSubject, max_deliver: config.max_deliver });
  }
  const consumer = await nc.jetstream().consumers.get(spec.stream.name, spec.durable);
  const batch = spec.batch ?? 64;
  const messages: Deliveries = spec.pollMs ? polled(consumer, batch, spec.pollMs, log, spec.durable) : await consumer.consume({ max_messages: batch });
  const count = (outcome: string) => metrics?.consumerHandled.inc({ consumer: spec.durable, outcome });
  const limit = Math.max(1, spec.inFlight ?? 1);
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  const settle = async (msg: JsMsg, event: T) => {
    try {
      const outcome = await spec.handle(event, msg);
      if (outcome === "term") msg.term();
      else msg.ack();
      count(outcome);
    } catch (err) {
      const attempt = msg.info.redeliveryCount;
      log.warn({ consumer: spec.durable, subject: msg.subject, attempt, err: { message: (err as Error).message } }, "event handling failed, will retry");
      msg.nak(Math.min(30_000, 200 * 2 ** Math.min(attempt, 8)));
      count("nak");
    }
  };
  const pending = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const msg of messages) {
      let event: T;
      try {
        event = spec.decode(msg.data, msg.subject);
      } catch (err) {
        log.error({ consumer: spec.durable, subject: msg.subject, err: { message: (err as Error).message } }, "poison message terminated");
        msg.term("undecodable payload");
        count("term");
        continue;
      }
      if (limit === 1) {
        await settle(msg, event);
        continue;
      }
      inFlight++;
      const p: Promise<void> = settle(msg, event).finally(() => {
        inFlight--;
        pending.delete(p);
        slotFreed?.();
      });
      pending.add(p);
      while (inFlight >= limit) await new Promise<void>((r) => (slotFreed = r));
    }
    await Promise.all(pending);
  })();
  return {
    async stop() {
      await messages.close();
      await loop.catch(() => undefined);
    },
  };
}

/**
 * Runs `work` at most once per (consumer, event id): the id is recorded in
 * processed_events in the same transaction, so a redelivery is a no-op.
 */
export async function once<DB>(
  db: Kysely<DB>,
  consumer: string,
  eventId: string,
  work: (trx: Kysely<DB>) => Promise<void>,
): Promise<Outcome> {
  return db.transaction().execute(async (trx) => {
    // processed_events comes from the kit migrations; DB may not declare it.
    const inserted = await (trx as unknown as Kysely<{ processed_events: { consumer: string; event_id: string } }>)
      .insertInto("processed_events")
      .values({ consumer, event_id: eventId })
      .onConflict((oc) => oc.columns(["consumer", "event_id"]).doNothing())
      .returning("event_id")
      .executeTakeFirst();
    if (!inserted) return "duplicate";
    await work(trx);
    return "ack";
  });
}
