import type { InputBounds } from "@kontor/service-kit/input";

/** Ads' limits over the kit's defaults (input.ts). */
export const bounds: InputBounds = {
  business_id: 128,
  campaign_id: 128,
  name: 200,
  page_token: 512,
};
