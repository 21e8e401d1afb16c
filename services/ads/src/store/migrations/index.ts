import type { Migration } from "kysely";
import * as createCampaign from "./2026_11_21_150000_create_campaign.js";
import * as serving from "./2026_12_05_040000_serving.js";
import * as audiences from "./2026_12_05_043000_audiences.js";
import * as settlement from "./2026_12_05_070000_settlement.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_21_150000_create_campaign": createCampaign,
  "2026_12_05_040000_serving": serving,
  "2026_12_05_043000_audiences": audiences,
  "2026_12_05_070000_settlement": settlement,
};
