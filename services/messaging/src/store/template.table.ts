import type { ColumnType, Selectable } from "kysely";

/** A message template; enums are the proto's numbers, components the Cloud API's JSON (TemplateComponentSpec.toJSON). */
export interface TemplateTable {
  id: string;
  business_id: string;
  name: string;
  language: string;
  category: number;
  previous_category: number;
  status: number;
  parameter_format: number;
  components: unknown;
  rejected_reason: string;
  pause_count: number;
  paused_until: Date | null;
  approved_edits: Date[];
  created_at: Date;
  updated_at: Date;
}

/** Per-business template settings: verified raises the cap (250 → 6,000). */
export interface TemplateBusinessTable {
  business_id: string;
  verified: boolean;
  verified_version: ColumnType<string, string | number | undefined, string | number>;
}

export type TemplateRow = Selectable<TemplateTable>;
