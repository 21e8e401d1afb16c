import { ProductArchived, ProductUpserted } from "@kontor/proto/catalog/v1/events";
import { Availability } from "@kontor/proto/catalog/v1/catalog_service";
import type { Runtime } from "@kontor/service-kit/runtime";
import type { MessagingDatabase } from "../store/database.js";

export const CATALOG_PRODUCTS_CONSUMER = "messaging-catalog-products";

type ProductEvent = { catalogId: string; retailerId: string; businessId: string; sendable: boolean; version: number };

/** Catalog's product events → the product's row (a newer version only), by one consumer the replicas share; replaying is harmless. */
export function registerCatalogProductsConsumer(rt: Runtime<MessagingDatabase>, store: { apply(e: ProductEvent): Promise<void> }): void {
  rt.consume<ProductEvent | undefined>({
    durable: CATALOG_PRODUCTS_CONSUMER,
    domain: "catalog",
    subject: "kontor.catalog.product.>",
    decode: (data, subject) => {
      if (subject.endsWith(".product.upserted.v1")) {
        const e = ProductUpserted.decode(data);
        return { catalogId: e.catalogId, retailerId: e.retailerId, businessId: e.meta?.businessId ?? "", sendable: e.visible && e.availability !== Availability.AVAILABILITY_DISCONTINUED, version: Number(e.version) };
      }
      if (subject.endsWith(".product.archived.v1")) {
        const e = ProductArchived.decode(data);
        return { catalogId: e.catalogId, retailerId: e.retailerId, businessId: e.meta?.businessId ?? "", sendable: false, version: Number(e.version) };
      }
      return undefined;
    },
    async handle(e) {
      if (!e) return "ack";
      if (!e.catalogId || !e.retailerId || !e.businessId) return "term";
      await store.apply(e);
      return "ack";
    },
  });
}
