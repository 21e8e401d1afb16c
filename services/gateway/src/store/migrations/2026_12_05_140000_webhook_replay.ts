import { sql, type Kysely } from "kysely";

/**
 * Replays: a copy of a notification is queued again under a replay id (the
 * original keeps its place), optionally to another URL. Retention: finished
 * rows are swept by queue time; job_run lets one replica run a periodic job.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("webhook_delivery").addColumn("replay_id", "text", (c) => c.notNull().defaultTo("")).execute();
  await db.schema.alterTable("webhook_delivery").addColumn("callback_uri", "text").execute();
  await sql`ALTER TABLE webhook_delivery DROP CONSTRAINT IF EXISTS webhook_delivery_event_uniq`.execute(db);
  await sql`ALTER TABLE webhook_delivery ADD CONSTRAINT webhook_delivery_event_uniq UNIQUE (waba_id, event_id, replay_id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS webhook_delivery_waba_created_idx ON webhook_delivery (waba_id, created_at) WHERE replay_id = ''`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS webhook_delivery_finished_idx ON webhook_delivery (created_at) WHERE status <> 'pending'`.execute(db);
  await db.schema
    .createTable("job_run")
    .ifNotExists()
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("ran_at", "timestamptz", (c) => c.notNull())
    .execute();
}

// any: see up
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("job_run").ifExists().execute();
  await sql`DROP INDEX IF EXISTS webhook_delivery_finished_idx`.execute(db);
  await sql`DROP INDEX IF EXISTS webhook_delivery_waba_created_idx`.execute(db);
  await sql`DELETE FROM webhook_delivery WHERE replay_id <> ''`.execute(db);
  await sql`ALTER TABLE webhook_delivery DROP CONSTRAINT IF EXISTS webhook_delivery_event_uniq`.execute(db);
  await sql`ALTER TABLE webhook_delivery ADD CONSTRAINT webhook_delivery_event_uniq UNIQUE (waba_id, event_id)`.execute(db);
  await db.schema.alterTable("webhook_delivery").dropColumn("callback_uri").execute();
  await db.schema.alterTable("webhook_delivery").dropColumn("replay_id").execute();
}
