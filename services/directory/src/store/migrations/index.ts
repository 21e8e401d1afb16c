import type { Migration } from "kysely";
import * as createBusiness from "./2026_11_22_120000_create_business.js";
import * as createVerificationCase from "./2026_11_22_130000_create_verification_case.js";
import * as createFollow from "./2026_11_22_140000_create_follow.js";
import * as createChatLink from "./2026_11_22_150000_create_chat_link.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_22_120000_create_business": createBusiness,
  "2026_11_22_130000_create_verification_case": createVerificationCase,
  "2026_11_22_140000_create_follow": createFollow,
  "2026_11_22_150000_create_chat_link": createChatLink,
};
