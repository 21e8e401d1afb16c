import type { KitTables } from "@kontor/service-kit/kit-migrations";
import type { BusinessPhoneNumberTable, BusinessSearchTable, BusinessTable, CategoryWordTable, SearchWordTable } from "./business.table.js";
import type { VerificationCaseTable } from "./verification.table.js";
import type { FollowTable } from "./follow.table.js";
import type { ChatLinkTable } from "./chat-link.table.js";
import type { CustomerErasureTable } from "./customer-erasure.table.js";

export interface DirectoryDatabase extends KitTables {
  business: BusinessTable;
  business_phone_number: BusinessPhoneNumberTable;
  business_search: BusinessSearchTable;
  search_word: SearchWordTable;
  category_word: CategoryWordTable;
  verification_case: VerificationCaseTable;
  follow: FollowTable;
  chat_link: ChatLinkTable;
  customer_erasure: CustomerErasureTable;
}
