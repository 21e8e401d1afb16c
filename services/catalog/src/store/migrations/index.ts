import type { Migration } from "kysely";
import * as createProduct from "./2026_11_21_120000_create_product.js";
import * as commerce from "./2026_12_01_120000_commerce.js";
import * as productSearch from "./2026_12_05_120000_product_search.js";
import * as paymentMismatch from "./2026_12_06_120000_payment_mismatch.js";
import * as productFillfactor from "./2026_12_07_120000_product_fillfactor.js";
import * as searchRankCap from "./2026_12_08_120000_search_rank_cap.js";
import * as cartVersion from "./2026_12_08_130000_cart_version.js";
import * as paymentMismatchReason from "./2026_12_08_140000_payment_mismatch_reason.js";
import * as commerceSettings from "./2026_12_08_150000_commerce_settings.js";
import * as chatOrderMessage from "./2026_12_08_160000_chat_order_message.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_21_120000_create_product": createProduct,
  "2026_12_01_120000_commerce": commerce,
  "2026_12_05_120000_product_search": productSearch,
  "2026_12_06_120000_payment_mismatch": paymentMismatch,
  "2026_12_07_120000_product_fillfactor": productFillfactor,
  "2026_12_08_120000_search_rank_cap": searchRankCap,
  "2026_12_08_130000_cart_version": cartVersion,
  "2026_12_08_140000_payment_mismatch_reason": paymentMismatchReason,
  "2026_12_08_150000_commerce_settings": commerceSettings,
  "2026_12_08_160000_chat_order_message": chatOrderMessage,
};
