import { sql, type Kysely } from "kysely";

/*
 * Chatbot flows: every saved version of a business's flow (a conversation
 * keeps the version it started on), the webhook secret per flow name, and
 * each conversation's place in a flow.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS flow (
      business_id text NOT NULL,
      name text NOT NULL,
      version int NOT NULL,
      definition jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (business_id, name, version)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS flow_name (
      business_id text NOT NULL,
      name text NOT NULL,
      webhook_secret text NOT NULL,
      deleted_at timestamptz,
      PRIMARY KEY (business_id, name)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS flow_session (
      conversation_id text PRIMARY KEY,
      business_id text NOT NULL,
      session jsonb NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS flow_session`.execute(db);
  await sql`DROP TABLE IF EXISTS flow_name`.execute(db);
  await sql`DROP TABLE IF EXISTS flow`.execute(db);
}
