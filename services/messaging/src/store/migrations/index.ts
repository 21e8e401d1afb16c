import type { Migration } from "kysely";
import * as createMessaging from "./2026_11_21_130000_create_messaging.js";
import * as moveEventBatchToOutbox from "./2026_11_22_210100_move_event_batch_to_outbox.js";
import * as echoOwnSends from "./2026_11_23_090000_echo_own_sends.js";
import * as sendBatchCheck from "./2026_11_24_090000_send_batch_check.js";
import * as recordKeyErasures from "./2026_12_01_120000_record_key_erasures.js";
import * as refuseErasedKeys from "./2026_12_01_220000_refuse_erased_keys.js";
import * as createTemplates from "./2026_12_01_230000_create_templates.js";
import * as recordConsent from "./2026_12_01_230000_record_consent.js";
import * as eraseCustomers from "./2026_12_05_100000_erase_customers.js";
import * as recordBlocks from "./2026_12_05_100100_record_blocks.js";
import * as policyState from "./2026_12_05_090000_policy_state.js";
import * as businessTools from "./2026_12_05_120000_business_tools.js";
import * as broadcasts from "./2026_12_05_130000_broadcasts.js";
import * as analytics from "./2026_12_05_140000_analytics.js";
import * as flows from "./2026_12_05_150000_flows.js";
import * as catalogProducts from "./2026_12_05_160000_catalog_products.js";
import * as autoReplies from "./2026_12_05_170000_auto_replies.js";
import * as templateAnalytics from "./2026_12_05_180000_template_analytics.js";
import * as analyticsAllNumbers from "./2026_12_05_190000_analytics_all_numbers.js";
import * as analyticsByNumber from "./2026_12_05_190100_analytics_by_number.js";
import * as customerFollows from "./2026_12_05_200000_customer_follows.js";
import * as broadcastClicks from "./2026_12_05_200100_broadcast_clicks.js";
import * as sendOutbox from "./2026_12_05_210000_send_outbox.js";
import * as sendBatchSeqCheck from "./2026_12_05_220000_send_batch_seq_check.js";
import * as userBlocks from "./2026_12_05_230000_user_blocks.js";
import * as orderNotifications from "./2026_12_06_090000_order_notifications.js";
import * as broadcastChunks from "./2026_12_09_090000_broadcast_chunks.js";
import * as broadcastSchedule from "./2026_12_09_100000_broadcast_schedule.js";
import * as broadcastReached from "./2026_12_09_110000_broadcast_reached.js";

/** Every migration, by its frozen name; order is by name. */
export const migrations: Record<string, Migration> = {
  "2026_11_21_130000_create_messaging": createMessaging,
  "2026_11_22_210100_move_event_batch_to_outbox": moveEventBatchToOutbox,
  "2026_11_23_090000_echo_own_sends": echoOwnSends,
  "2026_11_24_090000_send_batch_check": sendBatchCheck,
  "2026_12_01_120000_record_key_erasures": recordKeyErasures,
  "2026_12_01_220000_refuse_erased_keys": refuseErasedKeys,
  "2026_12_01_230000_create_templates": createTemplates,
  "2026_12_01_230000_record_consent": recordConsent,
  "2026_12_05_090000_policy_state": policyState,
  "2026_12_05_100000_erase_customers": eraseCustomers,
  "2026_12_05_100100_record_blocks": recordBlocks,
  "2026_12_05_120000_business_tools": businessTools,
  "2026_12_05_130000_broadcasts": broadcasts,
  "2026_12_05_140000_analytics": analytics,
  "2026_12_05_150000_flows": flows,
  "2026_12_05_160000_catalog_products": catalogProducts,
  "2026_12_05_170000_auto_replies": autoReplies,
  "2026_12_05_180000_template_analytics": templateAnalytics,
  "2026_12_05_190000_analytics_all_numbers": analyticsAllNumbers,
  "2026_12_05_190100_analytics_by_number": analyticsByNumber,
  "2026_12_05_200000_customer_follows": customerFollows,
  "2026_12_05_200100_broadcast_clicks": broadcastClicks,
  "2026_12_05_210000_send_outbox": sendOutbox,
  "2026_12_05_220000_send_batch_seq_check": sendBatchSeqCheck,
  "2026_12_05_230000_user_blocks": userBlocks,
  "2026_12_06_090000_order_notifications": orderNotifications,
  "2026_12_09_090000_broadcast_chunks": broadcastChunks,
  "2026_12_09_100000_broadcast_schedule": broadcastSchedule,
  "2026_12_09_110000_broadcast_reached": broadcastReached,
};
