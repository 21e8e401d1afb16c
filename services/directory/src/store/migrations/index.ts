import type { Migration } from "kysely";
import * as createBusiness from "./2026_11_22_120000_create_business.js";
import * as createVerificationCase from "./2026_11_22_130000_create_verification_case.js";
import * as createFollow from "./2026_11_22_140000_create_follow.js";
import * as createChatLink from "./2026_11_22_150000_create_chat_link.js";
import * as addSearchWordPrefixIndex from "./2026_11_22_160000_add_search_word_prefix_index.js";
import * as addNameDoc from "./2026_11_22_170000_add_name_doc.js";
import * as createSimilarWords from "./2026_11_22_180000_create_similar_words.js";
import * as createPrepareQuery from "./2026_11_22_190000_create_prepare_query.js";
import * as addBrowseIndexes from "./2026_11_22_200000_add_browse_indexes.js";
import * as recordCustomerErasures from "./2026_12_05_100000_record_customer_erasures.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_22_120000_create_business": createBusiness,
  "2026_11_22_130000_create_verification_case": createVerificationCase,
  "2026_11_22_140000_create_follow": createFollow,
  "2026_11_22_150000_create_chat_link": createChatLink,
  "2026_11_22_160000_add_search_word_prefix_index": addSearchWordPrefixIndex,
  "2026_11_22_170000_add_name_doc": addNameDoc,
  "2026_11_22_180000_create_similar_words": createSimilarWords,
  "2026_11_22_190000_create_prepare_query": createPrepareQuery,
  "2026_11_22_200000_add_browse_indexes": addBrowseIndexes,
  "2026_12_05_100000_record_customer_erasures": recordCustomerErasures,
};
