import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { BusinessKeyTable, BusinessNumberTable, ConversationTable, CustomerTable, InboxTable, MessageTable } from "./tables.js";

export interface MessagingDatabase extends KitTables {
  customer: CustomerTable;
  business_number: BusinessNumberTable;
  inbox: InboxTable;
  conversation: ConversationTable;
  business_key: BusinessKeyTable;
  message: MessageTable;
}
