import type { Kysely } from "kysely";
import type { CatalogDatabase } from "./database.js";
import type { NewProductRow, ProductRow } from "./product.table.js";

export async function insertProduct(db: Kysely<CatalogDatabase>, row: NewProductRow): Promise<ProductRow> {
  return db.insertInto("product").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findProduct(db: Kysely<CatalogDatabase>, id: string): Promise<ProductRow | undefined> {
  return db.selectFrom("product").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Newest first; the cursor is (created_at, id) of the last row seen. Hidden
 * rows are left out in the query, before the LIMIT, so they never shorten a page.
 */
export async function listProducts(
  db: Kysely<CatalogDatabase>,
  businessId: string,
  limit: number,
  after?: { createdAt: Date; id: string },
  options: { includeHidden: boolean } = { includeHidden: false },
): Promise<ProductRow[]> {
  let q = db.selectFrom("product").selectAll().where("business_id", "=", businessId);
  if (!options.includeHidden) q = q.where("visible", "=", true);
  if (after) {
    q = q.where((eb) => eb.or([eb("created_at", "<", after.createdAt), eb.and([eb("created_at", "=", after.createdAt), eb("id", "<", after.id)])]));
  }
  return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
}
