import type { Generated, Insertable, Selectable } from "kysely";

export interface ProductTable {
  id: string;
  business_id: string;
  catalog_id: string;
  retailer_id: string;
  name: string;
  description: Generated<string>;
  price_minor: string;
  currency: string;
  /** The first of image_urls (kept for the original column). */
  image_url: Generated<string>;
  image_urls: Generated<string[]>;
  sale_price_minor: string | null;
  sale_starts_at: Date | null;
  sale_ends_at: Date | null;
  /** The proto's Availability number. */
  availability: Generated<number>;
  /** Units on hand; null when not counted. */
  inventory: string | null;
  /** Units held by unpaid orders. */
  reserved: Generated<string>;
  categories: Generated<string[]>;
  collections: Generated<string[]>;
  item_group_id: Generated<string>;
  size: Generated<string>;
  color: Generated<string>;
  visible: Generated<boolean>;
  archived_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  version: Generated<string>;
  /** Normalised words of name and description (see domain/text.ts). */
  search_text: Generated<string>;
}

export type ProductRow = Selectable<ProductTable>;
export type NewProductRow = Insertable<ProductTable>;
