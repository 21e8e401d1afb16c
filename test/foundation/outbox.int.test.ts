import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Migrator } from "kysely";
import type { NatsConnection } from "nats";
import { EventMeta } from "@kontor/proto/common/v1/event";
import { OutboxBatch } from "@kontor/proto/common/v1/outbox";
import { createDb, migrateToLatest, sql } from "@kontor/service-kit/db";
import { kitMigrations } from "@kontor/service-kit/kit-migrations";
import { createLogger } from "@kontor/service-kit/log";
import { createMetrics } from "@kontor/service-kit/metrics";
import { domainStream, ensureStream } from "@kontor/service-kit/nats";
import { createOutboxRelay, encodeOutboxBatch, enqueue, type OutboxEvent } from "@kontor/service-kit/outbox";
import { streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";

// The kit's outbox below the runtime: the upgrade from the per-event table, and replicas side by side.

let env: TestEnv;
let nc: NatsConnection;
const log = createLogger("probe", "silent");
const subject = "kontor.probe.thing.happened.v1";

beforeAll(async () => {
  env = await createTestEnv();
  nc = await env.nats();
  await ensureStream(await nc.jetstreamManager(), domainStream(env.natsPrefix, "probe"));
});

afterAll(async () => {
  await env?.cleanup();
});

function event(eventId: string): OutboxEvent {
  return { eventId, subject, payload: EventMeta.encode({ eventId, occurredAt: new Date(), businessId: "b" }).finish() };
}

/** Event ids stored on the probe stream that start with `tag`, in stream order. */
async function storedIds(tag: string): Promise<string[]> {
  return (await streamMessages(env, "probe", subject)).map((m) => EventMeta.decode(m.data).eventId).filter((id) => id.startsWith(tag));
}

describe("kit migration 2026_11_22_210000_kit_create_outbox_batch", () => {
  it("when per-event outbox rows are pending at the upgrade, then they move into outbox_batch in order (and back on a rollback) and each is published once", async () => {
    const schema = "outbox_upgrade";
    const dbh = createDb({ url: env.databaseUrl, schema, max: 3 });
    try {
      // The database as the previous release left it: only the first kit migration, events pending.
      await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(dbh.db);
      const old = new Migrator({ db: dbh.db.withSchema(schema), provider: { getMigrations: async () => kitMigrations(schema) }, migrationTableSchema: schema });
      const first = await old.migrateTo("2026_01_01_000000_kit_create_outbox");
      expect(first.error).toBeUndefined();
      const ids = ["up-3", "up-1", "up-2"]; // insertion order, not id order, is the order to keep
      for (const id of ids) {
        const e = event(id);
        await sql`INSERT INTO ${sql.id(schema, "outbox")} (event_id, subject, payload) VALUES (${e.eventId}, ${e.subject}, ${Buffer.from(e.payload)})`.execute(dbh.db);
      }

      await migrateToLatest(dbh.db, schema, {});
      const { rows: gone } = await sql<{ t: string | null }>`SELECT to_regclass(${`${schema}.outbox`})::text AS t`.execute(dbh.db);
      expect(gone[0]?.t).toBeNull();
      const { rows } = await sql<{ payload: Buffer }>`SELECT payload FROM ${sql.id(schema, "outbox_batch")} ORDER BY id`.execute(dbh.db);
      expect(rows.flatMap((r) => OutboxBatch.decode(r.payload).events.map((e) => e.eventId))).toEqual(ids);

      // A rollback (down) hands the pending events back to the per-event table, in order; up again restores the batches.
      expect((await old.migrateTo("2026_01_01_000000_kit_create_outbox")).error).toBeUndefined();
      const { rows: back } = await sql<{ event_id: string }>`SELECT event_id FROM ${sql.id(schema, "outbox")} ORDER BY id`.execute(dbh.db);
      expect(back.map((r) => r.event_id)).toEqual(ids);
      await migrateToLatest(dbh.db, schema, {});

      const relay = createOutboxRelay({ pool: dbh.pool, schema, nc, prefix: env.natsPrefix, log });
      expect(await relay.flush()).toBe(3);
      await relay.stop();
      expect(await storedIds("up-")).toEqual(ids);
    } finally {
      await dbh.db.destroy();
    }
  });
});

describe("createOutboxRelay", () => {
  it("when two relays share one outbox, then every row is published by one of them and every event lands once, rows' events in order", async () => {
    const schema = "outbox_replicas";
    const dbh = createDb({ url: env.databaseUrl, schema, max: 6 });
    const metrics = [createMetrics("probe-a", { defaultMetrics: false }), createMetrics("probe-b", { defaultMetrics: false })];
    const relays = metrics.map((m) => createOutboxRelay({ pool: dbh.pool, schema, nc, prefix: env.natsPrefix, log, metrics: m }));
    try {
      await migrateToLatest(dbh.db, schema, {});
      const rows = Array.from({ length: 40 }, (_, r) => [0, 1, 2].map((i) => event(`rep-${String(r).padStart(2, "0")}-${i}`)));
      await Promise.all(relays.map((r) => r.start()));
      for (const events of rows) await enqueue(dbh.db, schema, events);
      await waitFor(async () => {
        const { rows: left } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.id(schema, "outbox_batch")}`.execute(dbh.db);
        return left[0]!.n === 0;
      }, 15_000);
      await Promise.all(relays.map((r) => r.stop()));

      // No row went out twice: each relay counts only the events it published.
      const counts = await Promise.all(metrics.map(async (m) => (await m.outboxPublished.get()).values[0]?.value ?? 0));
      expect(counts[0]! + counts[1]!).toBe(120);
      const stored = await storedIds("rep-");
      expect([...stored].sort()).toEqual(rows.flat().map((e) => e.eventId).sort());
      for (const events of rows) {
        const at = events.map((e) => stored.indexOf(e.eventId));
        expect(at).toEqual([...at].sort((a, b) => a - b));
      }
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
      await dbh.db.destroy();
    }
  });

  it("when rows are handed over after their commit, then they go out in commit order, after the rows a crash left, and a failed one holds back those after it until it is gone", async () => {
    const schema = "outbox_handoff";
    const dbh = createDb({ url: env.databaseUrl, schema, max: 4 });
    const table = sql.id(schema, "handoff_outbox");
    const write = async (events: OutboxEvent[]): Promise<string> => {
      const { rows } = await sql<{ id: string }>`INSERT INTO ${table} (payload) VALUES (${encodeOutboxBatch(events)}) RETURNING id::text AS id`.execute(dbh.db);
      return rows[0]!.id;
    };
    // Passes take handed-over rows only after a minute: within this test, only handoff() and the drains publish them.
    const relay = createOutboxRelay({ pool: dbh.pool, schema, nc, prefix: env.natsPrefix, log, table: "handoff_outbox", handoffSettleMs: 60_000, pollMs: 50 });
    try {
      await migrateToLatest(dbh.db, schema, {});
      await sql`CREATE TABLE ${table} (id bigserial PRIMARY KEY, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`.execute(dbh.db);
      // Rows a crashed writer committed and never handed over.
      for (let i = 0; i < 3; i++) await write([event(`ho-left-${i}`)]);
      await relay.start();
      const handed = Array.from({ length: 20 }, (_, r) => [event(`ho-row-${String(r).padStart(2, "0")}-a`), event(`ho-row-${String(r).padStart(2, "0")}-b`)]);
      for (const events of handed) relay.handoff(await write(events), events);
      const first = ["ho-left-0", "ho-left-1", "ho-left-2", ...handed.flat().map((e) => e.eventId)];
      await waitFor(async () => (await storedIds("ho-")).length >= first.length || undefined, 15_000);
      // Deleted in a later batch, not by a pass.
      await waitFor(async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${table}`.execute(dbh.db)).rows[0]!.n === 0 || undefined, 15_000);
      expect(await storedIds("ho-")).toEqual(first);

      // A row no stream takes (JetStream refuses it): the rows handed over after it wait, in the table.
      const bad: OutboxEvent = { ...event("ho-bad"), subject: "kontor.nostream.thing.happened.v1" };
      const badId = await write([bad]);
      relay.handoff(badId, [bad]);
      const after = [0, 1, 2].map((i) => [event(`ho-after-${i}`)]);
      for (const events of after) relay.handoff(await write(events), events);
      await new Promise((r) => setTimeout(r, 500));
      expect(await storedIds("ho-after")).toEqual([]);
      // Once it is gone (an operator moved it away), the rest go out in order, and handoffs resume.
      await sql`DELETE FROM ${table} WHERE id = ${badId}`.execute(dbh.db);
      const last = [event("ho-last")];
      await waitFor(async () => (await storedIds("ho-after")).length === 3 || undefined, 15_000);
      relay.handoff(await write(last), last);
      await waitFor(async () => (await storedIds("ho-last")).length === 1 || undefined, 15_000);
      expect(await storedIds("ho-")).toEqual([...first, "ho-after-0", "ho-after-1", "ho-after-2", "ho-last"]);
    } finally {
      await relay.stop();
      await dbh.db.destroy();
    }
  });
});
