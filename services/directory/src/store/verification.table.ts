import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { Evidence } from "../domain/verification.js";

export interface VerificationCaseTable {
  id: string;
  business_id: string;
  state: string;
  requested_name: string;
  evidence: ColumnType<Evidence[], string, string>;
  note: Generated<string>;
  requested_by: string;
  reviewer_id: Generated<string>;
  decision_reason: Generated<string>;
  created_at: ColumnType<Date, Date | undefined, never>;
  decided_at: Date | null;
}

export type VerificationCaseRow = Selectable<VerificationCaseTable>;
export type NewVerificationCaseRow = Insertable<VerificationCaseTable>;
