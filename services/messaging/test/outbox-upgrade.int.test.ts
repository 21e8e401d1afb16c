import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Migrator, sql } from "kysely";
import { EventMeta } from "@kontor/proto/common/v1/event";
import { OutboxBatch } from "@kontor/proto/common/v1/outbox";
import { createDb } from "@kontor/service-kit/db";
import { kitMigrations } from "@kontor/service-kit/kit-migrations";
import { streamMessages } from "@kontor/testkit/events";
import { createTestEnv, type TestEnv } from "@kontor/testkit/env";
import { waitFor } from "@kontor/testkit/grpc";
import { loadConfig } from "../src/config.js";
import { createMessaging } from "../src/app.js";
import { migrations } from "../src/store/migrations/index.js";
import { subjects } from "../src/events/subjects.js";
import { masterKey } from "./factories.js";

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

describe("migration 2026_11_22_210100_move_event_batch_to_outbox", () => {
  it("when event_batch rows are pending at the upgrade, then the kit's relay publishes each of their events once, in order", async () => {
    const config = loadConfig(env.env({ MESSAGE_MASTER_KEY: masterKey() }));
    const schema = config.DB_SCHEMA ?? "messaging";
    // The database as the previous release left it: messaging's own event outbox, two commits pending.
    const dbh = createDb({ url: env.databaseUrl, schema, max: 2 });
    const ids = [["old-1", "old-2"], ["old-3"]];
    try {
      await sql`CREATE SCHEMA ${sql.id(schema)}`.execute(dbh.db);
      const old = new Migrator({ db: dbh.db.withSchema(schema), provider: { getMigrations: async () => ({ ...kitMigrations(schema), ...migrations }) }, migrationTableSchema: schema });
      expect((await old.migrateTo("2026_11_21_130000_create_messaging")).error).toBeUndefined();
      for (const row of ids) {
        // OutboxBatch has StoredEventBatch's field numbers: these are the bytes the old writer stored.
        const events = row.map((eventId) => ({ eventId, subject: subjects.messageStatus, payload: Buffer.from(EventMeta.encode({ eventId, occurredAt: new Date(), businessId: "b" }).finish()) }));
        await sql`INSERT INTO event_batch (payload) VALUES (${Buffer.from(OutboxBatch.encode({ events }).finish())})`.execute(dbh.db);
      }
    } finally {
      await dbh.db.destroy();
    }

    const app = await createMessaging(config);
    await app.start();
    const stored = async () => (await streamMessages(env, "messaging", subjects.messageStatus)).map((m) => EventMeta.decode(m.data).eventId).filter((id) => id.startsWith("old-"));
    await waitFor(async () => (await stored()).length >= 3, 10_000);
    const { rows } = await sql<{ t: string | null }>`SELECT to_regclass('event_batch')::text AS t`.execute(app.runtime.db);
    await app.stop();
    expect(rows[0]?.t).toBeNull();
    expect(await stored()).toEqual(ids.flat());
  });
});
