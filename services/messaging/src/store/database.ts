import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { BusinessKeyErasureTable } from "./business-key-erasure.table.js";
import type { BusinessKeyTable } from "./business-key.table.js";
import type { BusinessNumberTable } from "./business-number.table.js";
import type { BusinessReportTable } from "./business-report.table.js";
import type { ConversationTable } from "./conversation.table.js";
import type { CustomerTable } from "./customer.table.js";
import type { CustomerBlockTable } from "./customer-block.table.js";
import type { CustomerErasureTable } from "./customer-erasure.table.js";
import type { CustomerPrivacyTable } from "./customer-privacy.table.js";
import type { InboxTable } from "./inbox.table.js";
import type { MarketingConsentTable } from "./marketing-consent.table.js";
import type { MessageTable } from "./message.table.js";
import type { MessagingLimitTable, MessagingLimitUsageTable, NumberQualityTable } from "./messaging-limit.table.js";
import type { TemplateBusinessTable, TemplateTable } from "./template.table.js";

export interface MessagingDatabase extends KitTables {
  customer: CustomerTable;
  business_number: BusinessNumberTable;
  inbox: InboxTable;
  conversation: ConversationTable;
  business_key: BusinessKeyTable;
  business_key_erasure: BusinessKeyErasureTable;
  message: MessageTable;
  template: TemplateTable;
  template_business: TemplateBusinessTable;
  marketing_consent: MarketingConsentTable;
  customer_privacy: CustomerPrivacyTable;
  customer_block: CustomerBlockTable;
  messaging_limit: MessagingLimitTable;
  messaging_limit_usage: MessagingLimitUsageTable;
  number_quality: NumberQualityTable;
  business_report: BusinessReportTable;
  customer_erasure: CustomerErasureTable;
}
