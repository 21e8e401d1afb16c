import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";

/**
 * Tables every service needs in its own schema: the outbox (events written in
 * the same transaction as the state change) and processed_events (consumer
 * idempotency). Each kit migration is named after every service migration
 * that had landed before it: Kysely refuses to run a migration that sorts
 * before one a database already applied.
 */
export function kitMigrations(schema: string): Record<string, Migration> {
  return {
    "2026_01_01_000000_kit_create_outbox": {
      // any: migrations are frozen in time and must not depend on today's table types
      async up(db: Kysely<any>) {
        await db.schema
          .withSchema(schema)
          .createTable("outbox")
          .ifNotExists()
          .addColumn("id", "bigserial", (c) => c.primaryKey())
          .addColumn("event_id", "text", (c) => c.notNull().unique())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("payload", "bytea", (c) => c.notNull())
          .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
          .execute();
        await db.schema
          .withSchema(schema)
          .createTable("processed_events")
          .ifNotExists()
          .addColumn("consumer", "text", (c) => c.notNull())
          .addColumn("event_id", "text", (c) => c.notNull())
          .addColumn("processed_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
          .addPrimaryKeyConstraint("processed_events_pkey", ["consumer", "event_id"])
          .execute();
      },
      async down(db: Kysely<any>) {
        await db.schema.withSchema(schema).dropTable("processed_events").ifExists().execute();
        await db.schema.withSchema(schema).dropTable("outbox").ifExists().execute();
      },
    },
    // One row per commit instead of one per event (see outbox.ts). Rows still
    // pending in the per-event table move over in id order, so an upgrade
    // neither loses nor reorders events; a re-publish of one the old relay had
    // already sent is dropped by the stream's duplicate window like any other.
    "2026_11_22_210000_kit_create_outbox_batch": {
      // any: migrations are frozen in time and must not depend on today's table types
      async up(db: Kysely<any>) {
        await db.schema
          .withSchema(schema)
          .createTable("outbox_batch")
          .ifNotExists()
          .addColumn("id", "bigserial", (c) => c.primaryKey())
          .addColumn("payload", "bytea", (c) => c.notNull())
          .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
          .execute();
        if (await tableExists(db, schema, "outbox")) {
          for (let after = "0"; ; ) {
            const page = await db
              .withSchema(schema)
              .selectFrom("outbox")
              .select(["id", "event_id", "subject", "payload", "created_at"])
              .where("id", ">", after)
              .orderBy("id")
              .limit(MOVE_PAGE)
              .execute();
            if (page.length === 0) break;
            const rows = [];
            for (let i = 0; i < page.length; i += EVENTS_PER_ROW) {
              const events = page.slice(i, i + EVENTS_PER_ROW);
              rows.push({ payload: Buffer.from(encodeBatch(events)), created_at: events[0]!.created_at });
            }
            // Rows of one INSERT get their ids in VALUES order.
            await db.withSchema(schema).insertInto("outbox_batch").values(rows).execute();
            after = page[page.length - 1]!.id;
          }
        }
        await db.schema.withSchema(schema).dropTable("outbox").ifExists().execute();
      },
      // any: migrations are frozen in time and must not depend on today's table types
      async down(db: Kysely<any>) {
        await db.schema
          .withSchema(schema)
          .createTable("outbox")
          .ifNotExists()
          .addColumn("id", "bigserial", (c) => c.primaryKey())
          .addColumn("event_id", "text", (c) => c.notNull().unique())
          .addColumn("subject", "text", (c) => c.notNull())
          .addColumn("payload", "bytea", (c) => c.notNull())
          .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
          .execute();
        if (await tableExists(db, schema, "outbox_batch")) {
          for (let after = "0"; ; ) {
            const page = await db.withSchema(schema).selectFrom("outbox_batch").select(["id", "payload", "created_at"]).where("id", ">", after).orderBy("id").limit(MOVE_PAGE).execute();
            if (page.length === 0) break;
            const events = page.flatMap((r: { payload: Uint8Array; created_at: Date }) => decodeBatch(r.payload).map((e) => ({ ...e, created_at: r.created_at })));
            // The per-event table keys on event_id: an id twice in the backlog was going to be deduped anyway.
            if (events.length > 0) await db.withSchema(schema).insertInto("outbox").values(events).onConflict((oc) => oc.column("event_id").doNothing()).execute();
            after = page[page.length - 1]!.id;
          }
        }
        await db.schema.withSchema(schema).dropTable("outbox_batch").ifExists().execute();
      },
    },
  };
}

/** Old outbox rows read per query while moving them. */
const MOVE_PAGE = 5_000;
/** Events per moved row: bounded, like the rows writers make. */
const EVENTS_PER_ROW = 500;

// any: migrations are frozen in time and must not depend on today's table types
async function tableExists(db: Kysely<any>, schema: string, table: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${`${quoteId(schema)}.${quoteId(table)}`})::text AS t`.execute(db);
  return rows[0]?.t != null;
}

function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/*
 * The outbox_batch payload, written by hand rather than with today's generated
 * code so this migration keeps producing the same bytes:
 * kontor.common.v1.OutboxBatch { repeated OutboxEntry events = 1 },
 * OutboxEntry { string event_id = 1; string subject = 2; bytes payload = 3 }.
 */
function encodeBatch(events: { event_id: string; subject: string; payload: Uint8Array }[]): Uint8Array {
  const w = new BinaryWriter();
  for (const e of events) {
    w.uint32(10).fork();
    w.uint32(10).string(e.event_id);
    w.uint32(18).string(e.subject);
    w.uint32(26).bytes(e.payload);
    w.join();
  }
  return w.finish();
}

function decodeBatch(bytes: Uint8Array): { event_id: string; subject: string; payload: Uint8Array }[] {
  const out: { event_id: string; subject: string; payload: Uint8Array }[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag !== 10) {
      r.skip(tag & 7);
      continue;
    }
    const end = r.uint32() + r.pos;
    const e = { event_id: "", subject: "", payload: new Uint8Array() };
    while (r.pos < end) {
      const t = r.uint32();
      if (t === 10) e.event_id = r.string();
      else if (t === 18) e.subject = r.string();
      else if (t === 26) e.payload = Buffer.from(r.bytes());
      else r.skip(t & 7);
    }
    out.push(e);
  }
  return out;
}

/** Table types for the kit's tables, to merge into a service's database interface. */
export interface OutboxBatchTable {
  id: import("kysely").Generated<string>;
  /** A kontor.common.v1.OutboxBatch: every event of one commit, in order. */
  payload: Uint8Array;
  created_at: import("kysely").Generated<Date>;
}

export interface ProcessedEventsTable {
  consumer: string;
  event_id: string;
  processed_at: import("kysely").Generated<Date>;
}

export interface KitTables {
  outbox_batch: OutboxBatchTable;
  processed_events: ProcessedEventsTable;
}
