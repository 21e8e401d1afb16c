import type { ProductRow } from "../store/product.table.js";
import type { CatalogRow } from "../store/commerce.table.js";
import type { Product } from "./product.js";

export interface Catalog {
  id: string;
  businessId: string;
  name: string;
  isDefault: boolean;
  createdAt: Date;
}

export function catalogRowToCatalog(row: CatalogRow): Catalog {
  return { id: row.id, businessId: row.business_id, name: row.name, isDefault: row.is_default, createdAt: row.created_at };
}

export function productRowToProduct(row: ProductRow): Product {
  return {
    id: row.id,
    businessId: row.business_id,
    catalogId: row.catalog_id,
    retailerId: row.retailer_id,
    name: row.name,
    description: row.description,
    price: { amountMinor: BigInt(row.price_minor), currency: row.currency },
    imageUrls: row.image_urls,
    salePriceMinor: row.sale_price_minor === null ? null : BigInt(row.sale_price_minor),
    saleStartsAt: row.sale_starts_at,
    saleEndsAt: row.sale_ends_at,
    availability: row.availability,
    inventory: row.inventory === null ? null : BigInt(row.inventory),
    reserved: BigInt(row.reserved),
    categories: row.categories,
    collections: row.collections,
    itemGroupId: row.item_group_id,
    size: row.size,
    color: row.color,
    visible: row.visible,
    archived: row.archived_at !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: BigInt(row.version),
  };
}

