import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import { NotFound } from "@kontor/service-kit/errors";
import { isUuid } from "@kontor/service-kit/ids";
import type { OutboxEvent } from "@kontor/service-kit/outbox";
import type { CatalogDatabase } from "../store/database.js";
import { findProduct, insertProduct, listProducts } from "../store/product-store.js";
import type { ProductRow } from "../store/product.table.js";
import { productCreatedEvent } from "../events/outbox.js";
import { validateNewProduct, type NewProductInput, type Product } from "./product.js";

export interface CatalogPorts {
  db: Kysely<CatalogDatabase>;
  enqueue(trx: Kysely<CatalogDatabase>, events: OutboxEvent[]): Promise<void>;
}

export function productRowToProduct(row: ProductRow): Product {
  return {
    id: row.id,
    businessId: row.business_id,
    retailerId: row.retailer_id,
    name: row.name,
    description: row.description,
    price: { amountMinor: BigInt(row.price_minor), currency: row.currency },
    imageUrl: row.image_url,
    visible: row.visible,
    createdAt: row.created_at,
  };
}

/** Catalog use cases; authorization happens in the rpc layer before these run. */
export function createCatalogService(ports: CatalogPorts) {
  return {
    async createProduct(input: NewProductInput): Promise<Product> {
      const valid = validateNewProduct(input);
      return ports.db.transaction().execute(async (trx) => {
        const row = await insertProduct(trx, {
          id: randomUUID(),
          business_id: valid.businessId,
          retailer_id: valid.retailerId,
          name: valid.name,
          description: valid.description,
          price_minor: valid.price.amountMinor.toString(),
          currency: valid.price.currency,
          image_url: valid.imageUrl,
          // Millisecond clock: page cursors carry ms, so rows must not differ below that.
          created_at: new Date(),
        });
        const product = productRowToProduct(row);
        await ports.enqueue(trx, [productCreatedEvent(product)]);
        return product;
      });
    },

    async getProduct(id: string): Promise<Product> {
      const row = isUuid(id) ? await findProduct(ports.db, id) : undefined;
      if (!row) throw new NotFound("product");
      return productRowToProduct(row);
    },

    /** Hidden products are listed only with includeHidden (their owner). */
    async listProducts(businessId: string, limit: number, after: { createdAt: Date; id: string } | undefined, options: { includeHidden: boolean }): Promise<Product[]> {
      const rows = await listProducts(ports.db, businessId, limit, after, options);
      return rows.map(productRowToProduct);
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
