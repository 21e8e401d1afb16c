import type { Selectable } from "kysely";

/** A customer's marketing consent for one business: the latest opt-in and the latest opt-out, each with time, source, proof and recorder. */
export interface MarketingConsentTable {
  customer_id: string;
  business_id: string;
  opt_in_at: Date | null;
  opt_in_source: string | null;
  opt_in_proof: string | null;
  opt_in_by: string | null;
  opt_out_at: Date | null;
  opt_out_source: string | null;
  opt_out_proof: string | null;
  opt_out_by: string | null;
}

export type MarketingConsentRow = Selectable<MarketingConsentTable>;
