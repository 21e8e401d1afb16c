import type { InputBounds } from "@kontor/service-kit/input";

/** Catalog's limits over the kit's defaults (input.ts): ids as the Cloud API's commerce manager allows, URLs as browsers do. */
export const bounds: InputBounds = {
  business_id: 128,
  product_id: 128,
  retailer_id: 128,
  image_url: 2048,
  name: 200,
  description: 5000,
  page_token: 512,
};
