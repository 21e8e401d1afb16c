import { sql, type Kysely } from "kysely";

/*
 * The business tools of the inbox: quick replies, labels on conversations
 * and on customers (as one business sees them), and the agent a
 * conversation is assigned to.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS quick_reply (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      shortcut text NOT NULL,
      text text NOT NULL,
      media_id text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      UNIQUE (business_id, shortcut)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS label (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      name text NOT NULL,
      color text NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS label_business_name_idx ON label (business_id, lower(name))`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS conversation_label (
      conversation_id uuid NOT NULL,
      label_id uuid NOT NULL REFERENCES label (id) ON DELETE CASCADE,
      PRIMARY KEY (conversation_id, label_id)
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS conversation_label_label_idx ON conversation_label (label_id)`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS customer_label (
      business_id text NOT NULL,
      customer_id text NOT NULL,
      label_id uuid NOT NULL REFERENCES label (id) ON DELETE CASCADE,
      PRIMARY KEY (business_id, customer_id, label_id)
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS customer_label_label_idx ON customer_label (label_id)`.execute(db);
  await sql`
    ALTER TABLE conversation
      ADD COLUMN IF NOT EXISTS assigned_agent_id text,
      ADD COLUMN IF NOT EXISTS assigned_at timestamptz`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE conversation DROP COLUMN IF EXISTS assigned_agent_id, DROP COLUMN IF EXISTS assigned_at`.execute(db);
  await sql`DROP TABLE IF EXISTS customer_label`.execute(db);
  await sql`DROP TABLE IF EXISTS conversation_label`.execute(db);
  await sql`DROP TABLE IF EXISTS label`.execute(db);
  await sql`DROP TABLE IF EXISTS quick_reply`.execute(db);
}
