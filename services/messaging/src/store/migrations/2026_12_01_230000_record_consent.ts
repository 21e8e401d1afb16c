import { sql, type Kysely } from "kysely";

/*
 * Consent owned by messaging: per customer × business the latest marketing
 * opt-in and the latest opt-out, each with its time, source, proof and who
 * recorded it; per customer its privacy settings.
 */
// any: migrations are frozen in time and must not depend on today's table types
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS marketing_consent (
      customer_id text NOT NULL,
      business_id text NOT NULL,
      opt_in_at timestamptz,
      opt_in_source text,
      opt_in_proof text,
      opt_in_by text,
      opt_out_at timestamptz,
      opt_out_source text,
      opt_out_proof text,
      opt_out_by text,
      PRIMARY KEY (customer_id, business_id)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS customer_privacy (
      customer_id text PRIMARY KEY,
      ad_personalization boolean NOT NULL DEFAULT false,
      data_sharing_opt_out boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL,
      updated_by text NOT NULL
    )`.execute(db);
}

// any: migrations are frozen in time and must not depend on today's table types
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS customer_privacy`.execute(db);
  await sql`DROP TABLE IF EXISTS marketing_consent`.execute(db);
}
