import type { Migration } from "kysely";
import * as createLedger from "./2026_11_21_140000_create_ledger.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_21_140000_create_ledger": createLedger,
};
