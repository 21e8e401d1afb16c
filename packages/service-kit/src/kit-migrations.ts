import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely";

/**
 * Tables every service needs in its own schema: the outbox (events written in
 * the same transaction as the state change) and processed_events (consumer
 * idempotency). The names sort before any service migration.
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
  };
}

/** Table types for the kit's tables, to merge into a service's database interface. */
export interface OutboxTable {
  id: import("kysely").Generated<string>;
  event_id: string;
  subject: string;
  payload: Uint8Array;
  created_at: import("kysely").Generated<Date>;
}

export interface ProcessedEventsTable {
  consumer: string;
  event_id: string;
  processed_at: import("kysely").Generated<Date>;
}

export interface KitTables {
  outbox: OutboxTable;
  processed_events: ProcessedEventsTable;
}
