import type { InputBounds } from "@kontor/service-kit/input";

/** Directory's limits over the kit's defaults (input.ts); the domain checks the finer rules (a profile's websites, its description). */
export const bounds: InputBounds = {
  business_id: 128,
  customer_id: 128,
  case_id: 128,
  code: 64,
  page_token: 512,
  languages: 50,
  websites: 10,
  phone_numbers: 20,
  evidence: 20,
};
