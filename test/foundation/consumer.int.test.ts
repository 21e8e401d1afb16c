import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers, type NatsConnection } from "nats";
import { EventMeta } from "@kontor/proto/common/v1/event";
import { createDb, migrateToLatest, sql } from "@kontor/service-kit/db";
import { createLogger } from "@kontor/service-kit/log";
import { createMetrics } from "@kontor/service-kit/metrics";
import { domainStream, ensureStream, once, startConsumer, type RunningConsumer } from "@kontor/service-kit/nats";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";

// The kit's consumer contract (STYLE §10): poison → term, duplicate → no-op,
// failure → redelivery, crash before ack → redelivery that is not applied twice.

let env: TestEnv;
let nc: NatsConnection;
const schema = "consumer_probe";
const database = () => createDb<{ applied: { event_id: string } }>({ url: env.databaseUrl, schema, max: 2 });
let dbh: ReturnType<typeof database>;

beforeAll(async () => {
  env = await createTestEnv();
  nc = await env.nats();
  dbh = database();
  await migrateToLatest(dbh.db, schema, {
    "2026_11_21_000000_create_applied": {
      async up(db) {
        await db.schema.createTable("applied").addColumn("event_id", "text", (c) => c.notNull()).execute();
      },
    },
  });
  await ensureStream(await nc.jetstreamManager(), domainStream(env.natsPrefix, "probe"));
});

afterAll(async () => {
  await dbh?.db.destroy();
  await env?.cleanup();
});

async function publish(eventId: string, msgId = eventId, data?: Uint8Array) {
  const h = headers();
  await nc.jetstream().publish(`${env.natsPrefix}kontor.probe.thing.happened.v1`, data ?? EventMeta.encode({ eventId, occurredAt: new Date(), businessId: "b" }).finish(), { msgID: msgId, headers: h });
}

async function appliedCount(eventId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM ${sql.id(schema)}.applied WHERE event_id = ${eventId}`.execute(dbh.db);
  return Number(rows[0]?.n ?? 0);
}

describe("startConsumer + once", () => {
  it("when a poison message, a duplicate, a transient failure and a crash-before-ack arrive, then each good event is applied exactly once", async () => {
    const metrics = createMetrics("probe", { defaultMetrics: false });
    const log = createLogger("probe", "silent");
    let failOnce = true;
    let crashOnce = true;
    const consumer: RunningConsumer = await startConsumer(
      nc,
      {
        durable: "probe-applier",
        stream: domainStream(env.natsPrefix, "probe"),
        filterSubject: `${env.natsPrefix}kontor.probe.>`,
        decode: (data) => EventMeta.decode(data),
        handle: async (event) => {
          if (event.eventId === "e-flaky" && failOnce) {
            failOnce = false;
            throw new Error("transient");
          }
          const outcome = await once(dbh.db, "probe-applier", event.eventId, async (trx) => {
            await sql`INSERT INTO ${sql.id(schema)}.applied (event_id) VALUES (${event.eventId})`.execute(trx);
          });
          // Committed, then "crash" before the ack: the message comes back (here via nak, as after ack_wait).
          if (event.eventId === "e-crash" && crashOnce) {
            crashOnce = false;
            throw new Error("crashed after commit, before ack");
          }
          return outcome;
        },
      },
      log,
      metrics,
    );
    try {
      await publish("poison", "poison", new Uint8Array([0xff, 0xff, 0xff, 0xff]));
      await publish("e-1");
      await publish("e-1", "e-1-resent-by-a-producer-bug"); // same event id, new Nats-Msg-Id
      await publish("e-flaky");
      await publish("e-crash");
      await waitFor(async () => (await appliedCount("e-1")) === 1 && (await appliedCount("e-flaky")) === 1 && (await appliedCount("e-crash")) === 1, 15_000);
      // Give redeliveries time to (wrongly) apply again.
      await waitFor(async () => {
        const text = await metrics.registry.getSingleMetricAsString("kontor_consumer_handled_total");
        return /outcome="duplicate"[^\n]* 2/.test(text) && /outcome="term"[^\n]* 1/.test(text);
      }, 15_000);
      expect(await appliedCount("e-1")).toBe(1);
      expect(await appliedCount("e-flaky")).toBe(1);
      expect(await appliedCount("e-crash")).toBe(1);
      expect(await appliedCount("poison")).toBe(0);
    } finally {
      await consumer.stop();
    }
  });
});
