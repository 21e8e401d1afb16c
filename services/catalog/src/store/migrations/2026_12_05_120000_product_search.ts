import { sql, type Kysely } from "kysely";

/**
 * A narrow copy of each product's search document (id, catalog, flags,
 * tsvector) kept by a trigger: ranking a broad word's thousands of matches
 * reads these ~200-byte rows instead of whole products.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  await sql`
    CREATE TABLE IF NOT EXISTS product_search (
      id uuid PRIMARY KEY REFERENCES product (id) ON DELETE CASCADE,
      catalog_id uuid NOT NULL,
      visible boolean NOT NULL,
      archived boolean NOT NULL,
      doc tsvector NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS product_search_doc_idx ON product_search USING gin (catalog_id, doc)`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION product_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO product_search (id, catalog_id, visible, archived, doc)
      VALUES (NEW.id, NEW.catalog_id, NEW.visible, NEW.archived_at IS NOT NULL, NEW.doc)
      ON CONFLICT (id) DO UPDATE SET catalog_id = EXCLUDED.catalog_id, visible = EXCLUDED.visible, archived = EXCLUDED.archived, doc = EXCLUDED.doc;
      RETURN NULL;
    END $$`.execute(db);
  await sql`DROP TRIGGER IF EXISTS product_search_sync ON product`.execute(db);
  await sql`CREATE TRIGGER product_search_sync AFTER INSERT OR UPDATE OF search_text, visible, archived_at, catalog_id ON product FOR EACH ROW EXECUTE FUNCTION product_search_sync()`.execute(db);
  await sql`
    INSERT INTO product_search (id, catalog_id, visible, archived, doc)
    SELECT id, catalog_id, visible, archived_at IS NOT NULL, doc FROM product
    ON CONFLICT (id) DO NOTHING`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS product_search_sync ON product`.execute(db);
  await sql`DROP FUNCTION IF EXISTS product_search_sync()`.execute(db);
  await sql`DROP TABLE IF EXISTS product_search`.execute(db);
}
