import type { Generated } from "kysely";

/** Data keys per business, wrapped by the master key; `wrapped_key` is null once erased. */
export interface BusinessKeyTable {
  key_id: Generated<number>;
  business_id: string;
  wrapped_key: Uint8Array | null;
  created_at: Generated<Date>;
  erased_at: Date | null;
}
