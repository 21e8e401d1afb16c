import { sql, type Kysely } from "kysely";
import type { CatalogDatabase } from "./database.js";
import type { NewProductRow, ProductRow } from "./product.table.js";
import type { CatalogRow } from "./commerce.table.js";

type Db = Kysely<CatalogDatabase>;

export async function insertProduct(db: Db, row: NewProductRow): Promise<ProductRow> {
  return db.insertInto("product").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findProduct(db: Db, id: string): Promise<ProductRow | undefined> {
  return db.selectFrom("product").selectAll().where("id", "=", id).executeTakeFirst();
}

export async function findProductForUpdate(db: Db, id: string): Promise<ProductRow | undefined> {
  return db.selectFrom("product").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

export async function findByRetailerIds(db: Db, catalogId: string, retailerIds: string[]): Promise<ProductRow[]> {
  if (retailerIds.length === 0) return [];
  return db.selectFrom("product").selectAll().where("catalog_id", "=", catalogId).where("retailer_id", "in", retailerIds).execute();
}

export async function findProductsByIds(db: Db, ids: string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("product").selectAll().where("id", "in", ids).execute();
}

/** The columns an upsert writes (everything a business sets). */
export type ProductValues = Omit<NewProductRow, "id" | "business_id" | "catalog_id" | "created_at" | "reserved" | "version" | "updated_at" | "archived_at">;

/**
 * Creates or updates rows by (catalog, retailer id) in one statement; an
 * archived product comes back. Returns each row with whether it was new.
 */
export async function upsertProducts(db: Db, rows: NewProductRow[]): Promise<(ProductRow & { inserted: boolean })[]> {
  if (rows.length === 0) return [];
  const r = await db
    .insertInto("product")
    .values(rows)
    .onConflict((oc) =>
      oc.constraint("product_retailer_id_key").doUpdateSet((eb) => ({
        name: eb.ref("excluded.name"),
        description: eb.ref("excluded.description"),
        price_minor: eb.ref("excluded.price_minor"),
        currency: eb.ref("excluded.currency"),
        image_url: eb.ref("excluded.image_url"),
        image_urls: eb.ref("excluded.image_urls"),
        sale_price_minor: eb.ref("excluded.sale_price_minor"),
        sale_starts_at: eb.ref("excluded.sale_starts_at"),
        sale_ends_at: eb.ref("excluded.sale_ends_at"),
        availability: eb.ref("excluded.availability"),
        inventory: eb.ref("excluded.inventory"),
        categories: eb.ref("excluded.categories"),
        collections: eb.ref("excluded.collections"),
        item_group_id: eb.ref("excluded.item_group_id"),
        size: eb.ref("excluded.size"),
        color: eb.ref("excluded.color"),
        visible: eb.ref("excluded.visible"),
        search_text: eb.ref("excluded.search_text"),
        archived_at: null,
        updated_at: sql<Date>`now()`,
        version: sql<string>`product.version + 1`,
      })),
    )
    .returningAll()
    .returning(sql<boolean>`(xmax = 0)`.as("inserted"))
    .execute();
  return r;
}

export async function updateProduct(db: Db, id: string, values: ProductValues): Promise<ProductRow> {
  return db
    .updateTable("product")
    .set({ ...values, updated_at: sql<Date>`now()`, version: sql<string>`version + 1` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function archiveProduct(db: Db, id: string): Promise<ProductRow> {
  return db
    .updateTable("product")
    .set({ archived_at: sql<Date>`now()`, updated_at: sql<Date>`now()`, version: sql<string>`version + 1` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Adds a catalog's new words to its dictionary (typo correction). */
export async function addWords(db: Db, catalogId: string, words: string[]): Promise<void> {
  if (words.length === 0) return;
  await sql`INSERT INTO product_word (catalog_id, word) SELECT ${catalogId}::uuid, w FROM unnest(${words}::text[]) AS w ON CONFLICT DO NOTHING`.execute(db);
}

/**
 * Newest first; the cursor is (created_at, id) of the last row seen. Hidden
 * and archived rows are left out in the query, before the LIMIT, so they never shorten a page.
 */
export async function listProducts(
  db: Db,
  businessId: string,
  limit: number,
  after?: { createdAt: Date; id: string },
  options: { includeHidden: boolean; catalogId?: string } = { includeHidden: false },
): Promise<ProductRow[]> {
  let q = db.selectFrom("product").selectAll().where("business_id", "=", businessId).where("archived_at", "is", null);
  if (options.catalogId) q = q.where("catalog_id", "=", options.catalogId);
  if (!options.includeHidden) q = q.where("visible", "=", true);
  if (after) {
    q = q.where((eb) => eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]));
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}

export async function insertCatalog(db: Db, row: { id: string; business_id: string; name: string; is_default: boolean }): Promise<CatalogRow> {
  return db.insertInto("catalog").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findCatalog(db: Db, id: string): Promise<CatalogRow | undefined> {
  return db.selectFrom("catalog").selectAll().where("id", "=", id).executeTakeFirst();
}

/** The business's default catalog, created by the first caller that needs it (racing callers get the same one). */
export async function defaultCatalog(db: Db, businessId: string, newId: string): Promise<CatalogRow> {
  await sql`INSERT INTO catalog (id, business_id, name, is_default) VALUES (${newId}, ${businessId}, 'Default', true) ON CONFLICT (business_id) WHERE is_default DO NOTHING`.execute(db);
  return db.selectFrom("catalog").selectAll().where("business_id", "=", businessId).where("is_default", "=", true).executeTakeFirstOrThrow();
}

export async function listCatalogs(db: Db, businessId: string): Promise<CatalogRow[]> {
  return db.selectFrom("catalog").selectAll().where("business_id", "=", businessId).orderBy("created_at").orderBy("id").limit(1000).execute();
}
