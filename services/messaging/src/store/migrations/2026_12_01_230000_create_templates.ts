import { sql, type Kysely } from "kysely";

/*
 * Message templates (cloud-api.md §4): one row per (business, name,
 * language), components as the Cloud API's JSON. template_business holds
 * the per-business settings the template cap reads (verified: 6,000 instead
 * of 250, mirrored from directory's events by events/consumers.ts) and is the row a create locks, so two creates of one business
 * count one after the other.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS template (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      name text NOT NULL CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
      language text NOT NULL,
      category smallint NOT NULL,
      previous_category smallint NOT NULL DEFAULT 0,
      status smallint NOT NULL,
      parameter_format smallint NOT NULL,
      components jsonb NOT NULL,
      rejected_reason text NOT NULL DEFAULT '',
      pause_count integer NOT NULL DEFAULT 0,
      paused_until timestamptz,
      approved_edits timestamptz[] NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CONSTRAINT template_name_key UNIQUE (business_id, name, language)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS template_business (
      business_id text PRIMARY KEY,
      verified boolean NOT NULL DEFAULT false,
      -- directory's business version the flag came from: an older event never overwrites a newer one
      verified_version bigint NOT NULL DEFAULT 0
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS template`.execute(db);
  await sql`DROP TABLE IF EXISTS template_business`.execute(db);
}
