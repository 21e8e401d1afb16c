import type { Generated, Selectable } from "kysely";

/** Business numbers mirrored from directory events. */
export interface BusinessNumberTable {
  phone_number_id: string;
  business_id: string;
  e164: string;
  display_name: Generated<string>;
  verified: Generated<boolean>;
  verified_name: Generated<string>;
  active: Generated<boolean>;
  version: Generated<string>;
  updated_at: Generated<Date>;
}

export type BusinessNumberRow = Selectable<BusinessNumberTable>;
