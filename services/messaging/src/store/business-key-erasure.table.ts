import type { Generated, Selectable } from "kysely";

/** The audit of EraseBusinessKey: who destroyed which keys of a business, when and why. */
export interface BusinessKeyErasureTable {
  id: Generated<string>;
  business_id: string;
  key_ids: number[];
  erased_by: string;
  reason: string;
  erased_at: Date;
}

export type BusinessKeyErasureRow = Selectable<BusinessKeyErasureTable>;
