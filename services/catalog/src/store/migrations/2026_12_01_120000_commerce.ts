import { sql, type Kysely } from "kysely";

/**
 * Catalogs per business, the full product (sale price, availability,
 * inventory, categories, variants, archive, search document), the word
 * dictionary for typo-tolerant search, carts, orders with their lines,
 * reservations and change log. Existing products move into a default
 * catalog of their business; retailer ids become unique per catalog.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // any: migrations are frozen in time and must not depend on today's table types
  for (const ext of ["pg_trgm", "btree_gin"]) await ensureExtension(db, ext);

  await sql`
    CREATE TABLE IF NOT EXISTS catalog (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      name text NOT NULL,
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX IF NOT EXISTS catalog_default_key ON catalog (business_id) WHERE is_default`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS catalog_business_idx ON catalog (business_id, created_at, id)`.execute(db);

  await sql`
    ALTER TABLE product
      ADD COLUMN IF NOT EXISTS catalog_id uuid,
      ADD COLUMN IF NOT EXISTS image_urls text[] NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS sale_price_minor bigint CHECK (sale_price_minor >= 0),
      ADD COLUMN IF NOT EXISTS sale_starts_at timestamptz,
      ADD COLUMN IF NOT EXISTS sale_ends_at timestamptz,
      ADD COLUMN IF NOT EXISTS availability smallint NOT NULL DEFAULT 1,
      ADD COLUMN IF NOT EXISTS inventory bigint CHECK (inventory >= 0),
      ADD COLUMN IF NOT EXISTS reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
      ADD COLUMN IF NOT EXISTS categories text[] NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS collections text[] NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS item_group_id text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS size text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS color text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS archived_at timestamptz,
      ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,
      ADD COLUMN IF NOT EXISTS search_text text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS doc tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED`.execute(db);
  // The last line of defence against overselling: never more reserved than on hand.
  await sql`ALTER TABLE product DROP CONSTRAINT IF EXISTS product_stock_check`.execute(db);
  await sql`ALTER TABLE product ADD CONSTRAINT product_stock_check CHECK (inventory IS NULL OR reserved <= inventory)`.execute(db);

  // Existing products: one default catalog per business.
  await sql`
    INSERT INTO catalog (id, business_id, name, is_default)
    SELECT gen_random_uuid(), business_id, 'Default', true FROM (SELECT DISTINCT business_id FROM product WHERE catalog_id IS NULL) b
    ON CONFLICT DO NOTHING`.execute(db);
  await sql`UPDATE product p SET catalog_id = c.id, search_text = lower(p.name || ' ' || p.description), image_urls = CASE WHEN p.image_url = '' THEN '{}' ELSE ARRAY[p.image_url] END
    FROM catalog c WHERE p.catalog_id IS NULL AND c.business_id = p.business_id AND c.is_default`.execute(db);
  await sql`ALTER TABLE product ALTER COLUMN catalog_id SET NOT NULL`.execute(db);
  await sql`ALTER TABLE product DROP CONSTRAINT IF EXISTS product_retailer_id_key`.execute(db);
  await sql`ALTER TABLE product ADD CONSTRAINT product_retailer_id_key UNIQUE (catalog_id, retailer_id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS product_catalog_created_idx ON product (catalog_id, created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS product_doc_idx ON product USING gin (catalog_id, doc)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS product_categories_idx ON product USING gin (catalog_id, categories)`.execute(db);

  // Every word of a catalog's names and descriptions, for typo correction with trigrams.
  await sql`
    CREATE TABLE IF NOT EXISTS product_word (
      catalog_id uuid NOT NULL,
      word text NOT NULL,
      PRIMARY KEY (catalog_id, word)
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS product_word_trgm_idx ON product_word USING gin (catalog_id, word public.gin_trgm_ops)`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS cart (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      customer_id text NOT NULL,
      catalog_id uuid NOT NULL,
      currency char(3),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT cart_customer_key UNIQUE (customer_id, business_id)
    )`.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS cart_item (
      cart_id uuid NOT NULL REFERENCES cart (id) ON DELETE CASCADE,
      product_id uuid NOT NULL REFERENCES product (id),
      quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (cart_id, product_id)
    )`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS customer_order (
      id uuid PRIMARY KEY,
      business_id text NOT NULL,
      customer_id text NOT NULL,
      catalog_id uuid NOT NULL,
      state text NOT NULL,
      currency char(3) NOT NULL,
      subtotal_minor bigint NOT NULL CHECK (subtotal_minor >= 0),
      total_minor bigint NOT NULL CHECK (total_minor >= 0),
      note text NOT NULL DEFAULT '',
      delivery_address jsonb,
      tracking jsonb,
      source text NOT NULL,
      reserved_until timestamptz,
      paid_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS customer_order_business_idx ON customer_order (business_id, created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS customer_order_customer_idx ON customer_order (customer_id, created_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS customer_order_expiry_idx ON customer_order (reserved_until) WHERE state = 'PENDING_PAYMENT'`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS order_line (
      order_id uuid NOT NULL REFERENCES customer_order (id) ON DELETE CASCADE,
      line integer NOT NULL,
      product_id uuid NOT NULL,
      retailer_id text NOT NULL,
      name text NOT NULL,
      quantity integer NOT NULL CHECK (quantity > 0),
      unit_price_minor bigint NOT NULL,
      line_total_minor bigint NOT NULL,
      PRIMARY KEY (order_id, line)
    )`.execute(db);

  // Stock held for an unpaid order, per product with counted inventory.
  await sql`
    CREATE TABLE IF NOT EXISTS reservation (
      order_id uuid NOT NULL REFERENCES customer_order (id) ON DELETE CASCADE,
      product_id uuid NOT NULL,
      quantity bigint NOT NULL CHECK (quantity > 0),
      PRIMARY KEY (order_id, product_id)
    )`.execute(db);

  // Append-only history of every order state change.
  await sql`
    CREATE TABLE IF NOT EXISTS order_change (
      id bigserial PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES customer_order (id) ON DELETE CASCADE,
      from_state text,
      to_state text NOT NULL,
      actor text NOT NULL,
      reason text NOT NULL DEFAULT '',
      at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS order_change_order_idx ON order_change (order_id, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["order_change", "reservation", "order_line", "customer_order", "cart_item", "cart", "product_word"]) await sql`DROP TABLE IF EXISTS ${sql.id(t)}`.execute(db);
}

/** CREATE EXTENSION in public; another service's migration may race us to it, so a failure is fine when it exists afterwards. */
async function ensureExtension(db: Kysely<any>, ext: string): Promise<void> {
  await sql`SAVEPOINT ensure_extension`.execute(db);
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS ${sql.id(ext)} WITH SCHEMA public`.execute(db);
  } catch (err) {
    await sql`ROLLBACK TO SAVEPOINT ensure_extension`.execute(db);
    const again = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_extension WHERE extname = ${ext}`.execute(db);
    if ((again.rows[0]?.n ?? 0) === 0) throw err;
  }
  await sql`RELEASE SAVEPOINT ensure_extension`.execute(db);
}
