import { sql, type Kysely } from "kysely";
import type { ProductRow } from "../domain/catalog-products.js";
import type { MessagingDatabase } from "./database.js";

/** Catalog products as messaging knows them from catalog's events. */
export function createCatalogProductStore(db: Kysely<MessagingDatabase>) {
  return {
    /** A product event: applied only when newer than the row's version (events late or twice change nothing). */
    async apply(e: { catalogId: string; retailerId: string; businessId: string; sendable: boolean; version: number }): Promise<void> {
      await sql`
        INSERT INTO catalog_product (catalog_id, retailer_id, business_id, sendable, version)
        VALUES (${e.catalogId}, ${e.retailerId}, ${e.businessId}, ${e.sendable}, ${e.version})
        ON CONFLICT (catalog_id, retailer_id) DO UPDATE SET sendable = EXCLUDED.sendable, business_id = EXCLUDED.business_id, version = EXCLUDED.version
        WHERE catalog_product.version < EXCLUDED.version`.execute(db);
    },

    async loadProducts(catalogId: string, retailerIds: string[]): Promise<ProductRow[]> {
      const rows = await db.selectFrom("catalog_product").select(["retailer_id", "business_id", "sendable"]).where("catalog_id", "=", catalogId).where("retailer_id", "in", retailerIds).execute();
      return rows.map((r) => ({ retailerId: r.retailer_id, businessId: r.business_id, sendable: r.sendable }));
    },
  };
}
