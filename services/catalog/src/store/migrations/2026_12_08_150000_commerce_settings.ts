import { sql, type Kysely } from "kysely";

/**
 * A business's commerce settings (the Cloud API's whatsapp_commerce_settings):
 * one row per business once it changed them; no row means the defaults
 * (cart enabled, catalog hidden).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE TABLE IF NOT EXISTS commerce_settings (
      business_id text PRIMARY KEY,
      is_cart_enabled boolean NOT NULL DEFAULT true,
      is_catalog_visible boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS commerce_settings`.execute(db);
}
