import type { Generated, Insertable, Selectable } from "kysely";

export interface ProductTable {
  id: string;
  business_id: string;
  retailer_id: string;
  name: string;
  description: Generated<string>;
  price_minor: string;
  currency: string;
  image_url: Generated<string>;
  visible: Generated<boolean>;
  created_at: Generated<Date>;
}

export type ProductRow = Selectable<ProductTable>;
export type NewProductRow = Insertable<ProductTable>;
