import { InvalidInput } from "@kontor/service-kit/errors";

/** Cloud API 131009: a parameter's value is not valid (here: a product the business cannot send). */
export const INVALID_PARAMETER_CODE = 131009;
/** How long a product read from the store is trusted before it is read again (catalog's events land in the store first). */
export const CATALOG_REFRESH_MS = 5_000;

export interface ProductRow {
  retailerId: string;
  businessId: string;
  sendable: boolean;
}

export interface CatalogRows {
  /** These products of the catalog as messaging knows them (missing ones are unknown). */
  loadProducts(catalogId: string, retailerIds: string[]): Promise<ProductRow[]>;
}

type Known = { at: number; row: ProductRow | undefined };

/**
 * Catalog products in this replica's memory for the send path's product
 * messages: read from the store (which one consumer of catalog's product
 * events keeps) for the products a message names that are not known or
 * older than CATALOG_REFRESH_MS, one query per message at most and none when
 * all are fresh — never a call to catalog.
 */
export function createCatalogProducts(rows: CatalogRows, now: () => number = Date.now, max = 100_000) {
  const known = new Map<string, Known>();
  const keyOf = (catalogId: string, retailerId: string) => `${catalogId}\u0000${retailerId}`;

  return {
    /**
     * Refuses a product message whose products are not the business's or it
     * cannot send (unknown, hidden, archived, discontinued): INVALID_ARGUMENT
     * naming the field, Cloud API 131009.
     */
    async check(businessId: string, catalogId: string, products: { id: string; field: string }[], catalogField: string): Promise<void> {
      const t = now();
      const stale = products.filter((p) => {
        const k = known.get(keyOf(catalogId, p.id));
        return !k || t - k.at >= CATALOG_REFRESH_MS;
      });
      if (stale.length > 0) {
        const found = new Map((await rows.loadProducts(catalogId, [...new Set(stale.map((p) => p.id))])).map((r) => [r.retailerId, r]));
        if (known.size + stale.length > max) known.clear();
        for (const p of stale) known.set(keyOf(catalogId, p.id), { at: t, row: found.get(p.id) });
      }
      for (const p of products) {
        const row = known.get(keyOf(catalogId, p.id))?.row;
        if (row && row.businessId !== businessId) throw new InvalidInput(catalogField, "is not a catalog of this business", "INVALID_PARAMETER", INVALID_PARAMETER_CODE);
        if (!row?.sendable) throw new InvalidInput(p.field, `names no product this catalog can show (${p.id})`, "INVALID_PARAMETER", INVALID_PARAMETER_CODE);
      }
    },
  };
}

export type CatalogProducts = ReturnType<typeof createCatalogProducts>;
