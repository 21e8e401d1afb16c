import type { InputBounds } from "@kontor/service-kit/input";

/** Payments' limits over the kit's defaults (input.ts); a transfer's note is shown to both parties and kept short. */
export const bounds: InputBounds = {
  customer_id: 128,
  business_id: 128,
  account_id: 128,
  from_account_id: 128,
  to_account_id: 128,
  idempotency_key: 128,
  currency: 16,
  amount_minor: 32,
  note: 280,
};
