import type { InputBounds } from "@kontor/service-kit/input";

/** Catalog's limits over the kit's defaults (input.ts): ids as the Cloud API's commerce manager allows, URLs as browsers do. */
export const bounds: InputBounds = {
  business_id: 128,
  customer_id: 128,
  catalog_id: 64,
  product_id: 64,
  order_id: 64,
  retailer_id: 128,
  product_retailer_id: 128,
  product_retailer_ids: { count: 30, length: 128 },
  image_url: 2048,
  image_urls: { count: 10, length: 2048 },
  name: 200,
  description: 5000,
  categories: { count: 20, length: 100 },
  collections: { count: 20, length: 100 },
  item_group_id: 100,
  size: 100,
  color: 100,
  page_token: 512,
  query: 200,
  // Products per BulkUpsertProducts message (a call carries up to 10,000 over several messages).
  products: 1000,
  // ImportProducts file chunks.
  chunk: 1024 * 1024,
  sections: 10,
  title: 24,
  items: 100,
  note: 1024,
  text: 1024,
  update_mask: 20,
  availability: 4,
  states: 6,
  "tracking.url": 2048,
  "tracking.carrier": 100,
  "tracking.number": 100,
};
