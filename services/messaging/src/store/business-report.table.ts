import type { Generated, Selectable } from "kysely";

/** A customer's report of a business; `reason` is the ReportReason number of the proto. */
export interface BusinessReportTable {
  id: string;
  customer_id: string;
  business_id: string;
  phone_number_id: string | null;
  reason: number;
  comment: Generated<string>;
  created_at: Date;
}

export type BusinessReportRow = Selectable<BusinessReportTable>;
